package command

import (
	"testing"
	"time"

	"github.com/eventd/eventd/engine"
	"github.com/eventd/eventd/engine/jsonv"
)

// TestRestart: statuses, handlers and the answers to resends survive a
// restart.
func TestRestart(t *testing.T) {
	e := newEnv(t)
	h, _ := e.put("OpenAccount", openDef)
	ok := e.submit(createUser("u1", "ok"))
	rule := e.submit(updateUser("nobody", "rule", `{"a":1}`))
	stale := updateUser("u1", "stale", `{"a":1}`)
	stale.Expected, stale.ExpectedRaw = 9, []byte("9")
	conflict := e.submit(stale)
	acct := e.submit(req("OpenAccount", "acct", `{"accountId":"a-1"}`))
	async := createUser("u2", "async")
	async.Async = true
	e.submit(async)
	asyncDone := e.waitFinal("async")
	total, head := e.svc.Total(), e.st.Head()

	e.reopen(Options{})
	if e.svc.Total() != total || total != 5 {
		t.Fatalf("Total %d after restart, %d before", e.svc.Total(), total)
	}
	for _, c := range []struct {
		r     Request
		first Outcome
	}{{createUser("u1", "ok"), ok}, {updateUser("nobody", "rule", `{"a":1}`), rule}, {stale, conflict},
		{req("OpenAccount", "acct", `{"accountId":"a-1"}`), acct}, {async, asyncDone}} {
		st, err := e.svc.Status(c.r.ID)
		if err != nil {
			t.Fatal(err)
		}
		sameOutcome(t, c.first, st)
		sameOutcome(t, c.first, e.submit(c.r))
	}
	if e.st.Head() != head {
		t.Fatalf("resends after a restart wrote: head %d→%d", head, e.st.Head())
	}
	hs := e.svc.Handlers()
	found := false
	for _, x := range hs {
		if x.CommandType == "OpenAccount" {
			found = true
			if x.HandlerDef != h.HandlerDef || !x.UpdatedAt.Equal(h.UpdatedAt) {
				t.Fatalf("handler after restart %+v, before %+v", x, h)
			}
		}
	}
	if !found {
		t.Fatal("registered handler lost in a restart")
	}
	completed(t, e.submit(req("OpenAccount", "", `{"accountId":"a-2"}`)))
}

// acceptedByHand appends the CommandAccepted record of r as Submit would,
// without running it: the state a crash right after the 202 leaves.
func (e *env) acceptedByHand(r Request) {
	e.t.Helper()
	data, err := jsonv.DecodeObject(r.Data)
	if err != nil {
		e.t.Fatal(err)
	}
	fp, _ := fingerprintOf(r.Type, data)
	j := &job{req: r, fp: fp, createdAt: time.Now().UTC()}
	if _, err := e.st.Append(ctx, commandsStream, engine.Any, []engine.Proposed{{Type: evAccepted, Data: j.acceptedRecord()}}); err != nil {
		e.t.Fatal(err)
	}
}

// TestPendingAtCrashRunsOnce: async commands accepted but not run when the
// daemon died run at the next start, once.
func TestPendingAtCrashRunsOnce(t *testing.T) {
	e := newEnv(t)
	completed(t, e.submit(createUser("u0", "")))
	e.close() // the "crashed" daemon: only its log remains
	e.st = openStore(t, e.dir)
	create := createUser("u1", "p-create")
	create.Async = true
	e.acceptedByHand(create)
	upd := updateUser("u0", "p-update", `{"name":"Bo"}`)
	upd.Async, upd.Expected, upd.ExpectedRaw = true, 1, []byte("1")
	e.acceptedByHand(upd)
	stale := updateUser("u0", "p-stale", `{"name":"Cy"}`) // queued behind p-update: version 2 by then
	stale.Async, stale.Expected, stale.ExpectedRaw = true, 1, []byte("1")
	e.acceptedByHand(stale)
	gone := deleteUser("nobody", "p-gone")
	gone.Async = true
	e.acceptedByHand(gone)
	unknown := req("NoLongerKnown", "p-unknown", `{"x":"y"}`)
	unknown.Async = true
	e.acceptedByHand(unknown)

	e.svc = openSvc(t, e.st, Options{})
	if e.svc.Total() != 6 {
		t.Fatalf("Total %d", e.svc.Total())
	}
	completed(t, e.waitFinal("p-create"))
	if r := completed(t, e.waitFinal("p-update")); r.Version != 2 {
		t.Fatalf("update ran at version %d", r.Version)
	}
	failed(t, e.waitFinal("p-stale"), 409, CodeWrongExpectedVersion)
	failed(t, e.waitFinal("p-gone"), 422, CodeCommandFailed)
	failed(t, e.waitFinal("p-unknown"), 422, CodeCommandFailed)
	if e.state("u0")["name"] != "Bo" || len(e.events("u1")) != 1 {
		t.Fatalf("state %v, u1 has %d events", e.state("u0"), len(e.events("u1")))
	}
	head := e.st.Head()
	e.reopen(Options{})
	for _, id := range []string{"p-create", "p-update", "p-stale", "p-gone", "p-unknown"} {
		e.waitFinal(id)
	}
	if e.st.Head() != head || e.svc.Total() != 6 {
		t.Fatalf("a second start ran something again: head %d→%d, total %d", head, e.st.Head(), e.svc.Total())
	}
}
