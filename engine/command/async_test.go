package command

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/eventd/eventd/engine"
)

// waitFinal polls a command's status until it is completed or failed.
func (e *env) waitFinal(id string) Outcome {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		o, err := e.svc.Status(id)
		if err != nil {
			e.t.Fatalf("status of %s: %v", id, err)
		}
		if o.Command.Status.Final() {
			return o
		}
		if !o.Command.ProcessedAt.IsZero() || o.Command.Error != "" || o.Result != nil || o.Failure != nil {
			e.t.Fatalf("a %s command has an outcome: %+v", o.Command.Status, o)
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("command %s still %s after 10 s", id, o.Command.Status)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// hold takes stream's lock as a command would, so that commands on it
// wait; the returned func lets them go.
func (e *env) hold(stream string) func() {
	tk := e.svc.locks.enqueue(stream)
	if err := tk.wait(ctx); err != nil {
		e.t.Fatal(err)
	}
	return tk.release
}

func TestAsync(t *testing.T) {
	e := newEnv(t)
	release := e.hold("u1")
	r := createUser("u1", "a1")
	r.Async = true
	o := e.submit(r)
	if c := o.Command; c.Status != Pending || c.ID != "a1" || c.Type != "CreateUser" || !c.ProcessedAt.IsZero() || c.Error != "" || o.Result != nil {
		t.Fatalf("async answer %+v", o)
	}
	if e.svc.Total() != 1 || e.events(commandsStream)[0].Type != evAccepted {
		t.Fatalf("an accepted command must be recorded: total %d", e.svc.Total())
	}
	// While it waits: its status, and a resend's answer, say pending.
	st, err := e.svc.Status("a1")
	if err != nil || st.Command.Status != Pending {
		t.Fatalf("status %+v %v", st, err)
	}
	sameOutcome(t, o, st)
	sameOutcome(t, o, e.submit(r))
	other := createUser("u2", "a1")
	other.Async = true
	if _, err := e.svc.Submit(ctx, other); !errors.Is(err, ErrDuplicateCommand) {
		t.Fatalf("another command under a pending id: %v", err)
	}
	if e.version("u1") != 0 {
		t.Fatal("ran while the aggregate was held")
	}
	release()
	done := e.waitFinal("a1")
	res := completed(t, done)
	if res.Version != 1 || e.version("u1") != 1 || done.Command.CreatedAt.Truncate(time.Millisecond) != o.Command.CreatedAt.Truncate(time.Millisecond) {
		t.Fatalf("done %+v", done)
	}
	// Finished: a resend (sync or async) answers the final outcome.
	sameOutcome(t, done, e.submit(r))
	r.Async = false
	sameOutcome(t, done, e.submit(r))
	if e.svc.Total() != 1 || len(e.events("u1")) != 1 {
		t.Fatal("ran twice")
	}
	sys := e.events(commandsStream)
	if len(sys) != 2 || sys[1].Type != evCompleted || sys[1].Position != e.events("u1")[0].Position+1 {
		t.Fatalf("$commands %+v", sys)
	}
}

func TestAsyncFailures(t *testing.T) {
	e := newEnv(t)
	// A rule broken when it runs: accepted, then failed.
	r := updateUser("nobody", "f1", `{"a":1}`)
	r.Async = true
	if o := e.submit(r); o.Command.Status != Pending {
		t.Fatalf("answer %+v", o.Command)
	}
	failed(t, e.waitFinal("f1"), 422, CodeCommandFailed)
	// A rule broken in the data: failed at once, never pending.
	r = req("CreateUser", "f2", `{"userId":"u1"}`)
	r.Async = true
	failed(t, e.submit(r), 422, CodeCommandFailed)
	if e.svc.Total() != 2 {
		t.Fatalf("total %d", e.svc.Total())
	}
}

// TestAsyncOrderPerAggregate: async commands on one aggregate run in the
// order they were accepted, whatever worker takes them.
func TestAsyncOrderPerAggregate(t *testing.T) {
	e := newEnv(t)
	e.reopen(Options{Workers: 8})
	completed(t, e.submit(createUser("u1", "")))
	release := e.hold("u1")
	const n = 40
	for i := range n {
		r := updateUser("u1", fmt.Sprint("o", i), fmt.Sprintf(`{"n":%d}`, i))
		r.Async = true
		e.submit(r)
	}
	release()
	for i := range n {
		completed(t, e.waitFinal(fmt.Sprint("o", i)))
	}
	evs := e.events("u1")
	for i := range n {
		if d := decode(t, evs[i+1].Data)["updates"].(map[string]any); fmt.Sprint(d["n"]) != fmt.Sprint(i) {
			t.Fatalf("version %d holds update %v, want %d", i+2, d["n"], i)
		}
	}
}

func TestClosed(t *testing.T) {
	e := newEnv(t)
	release := e.hold("u1")
	r := createUser("u1", "p1")
	r.Async = true
	e.submit(r)
	if err := e.svc.Close(); err != nil {
		t.Fatal(err)
	}
	release()
	if _, err := e.svc.Submit(ctx, createUser("u2", "")); !errors.Is(err, ErrClosed) {
		t.Fatalf("Submit after Close: %v", err)
	}
	if _, _, err := e.svc.PutHandler(ctx, "Note", HandlerDef{EventType: "Noted", StreamIDFrom: "commandData.s", Expect: ExpectAny, Data: "commandData"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("PutHandler after Close: %v", err)
	}
	if e.version("u1") != 0 {
		t.Fatal("a command ran after Close")
	}
	// It stays pending in the log and runs after the next start, once.
	e.reopen(Options{})
	completed(t, e.waitFinal("p1"))
	e.reopen(Options{})
	completed(t, e.waitFinal("p1"))
	if len(e.events("u1")) != 1 || e.svc.Total() != 1 {
		t.Fatalf("%d events, total %d", len(e.events("u1")), e.svc.Total())
	}
}

// A sync command sent after an async one was accepted on the same
// aggregate runs after it (found by a review: the async one took its
// place only when a worker picked it up).
func TestSyncDoesNotOvertakeAcceptedAsync(t *testing.T) {
	e := newEnv(t)
	e.reopen(Options{Workers: 1})
	completed(t, e.submit(createUser("u1", "")))
	// Keep the one worker busy with another aggregate.
	completed(t, e.submit(createUser("u2", "")))
	release := e.hold("u2")
	busy := updateUser("u2", "busy", `{"n":0}`)
	busy.Async = true
	e.submit(busy)
	a := updateUser("u1", "a1", `{"who":"async"}`)
	a.Async = true
	e.submit(a)
	done := make(chan Outcome, 1)
	go func() {
		o, _ := e.svc.Submit(ctx, updateUser("u1", "s1", `{"who":"sync"}`))
		done <- o
	}()
	time.Sleep(50 * time.Millisecond) // the sync command would have run by now if it could overtake
	release()
	completed(t, <-done)
	completed(t, e.waitFinal("a1"))
	evs := e.events("u1")
	if len(evs) != 3 || decode(t, evs[1].Data)["updates"].(map[string]any)["who"] != "async" {
		t.Fatalf("version 2 is not the async command accepted first: %d events", len(evs))
	}
}

// An async command whose aggregate cannot be upcast is recorded as failed
// with the reason, not left pending for ever (found by a review).
func TestAsyncUpcastFailureIsRecorded(t *testing.T) {
	e := newEnv(t)
	completed(t, e.submit(createUser("u1", "")))
	e.st.SetUpcaster(failingUpcaster{})
	r := updateUser("u1", "a1", `{"n":1}`)
	r.Async = true
	e.submit(r)
	f := failed(t, e.waitFinal("a1"), 422, CodeCommandFailed)
	if !strings.Contains(f.Message, "upcast") {
		t.Fatalf("reason %q", f.Message)
	}
}

// failingUpcaster cannot upcast UserCreated.
type failingUpcaster struct{}

func (failingUpcaster) Upcast(e *engine.Event, _ []byte) ([]byte, uint32, bool, error) {
	if e.Type == "UserCreated" {
		return nil, 0, false, errors.New("split of a number")
	}
	return nil, 0, false, nil
}

// recoveringLog refuses AppendMulti with a recoverable failure (nothing
// written; the store takes appends again by itself) while down is set.
type recoveringLog struct {
	*engine.Store
	down    atomic.Bool
	refused atomic.Int64
}

func (l *recoveringLog) AppendMulti(ctx context.Context, parts []engine.StreamAppend) ([]engine.AppendResult, error) {
	if l.down.Load() {
		l.refused.Add(1)
		return nil, &engine.FailedError{Err: syscall.ENOSPC, Recoverable: true}
	}
	return l.Store.AppendMulti(ctx, parts)
}

// An accepted async command the store cannot take for a passing reason (a
// full disk) is tried again once the store takes appends, in its place:
// it completes without a restart, and a later command on its aggregate
// does not overtake it.
func TestAsyncRetriesRecoverableFailures(t *testing.T) {
	e := newEnv(t)
	completed(t, e.submit(createUser("u1", "")))
	log := &recoveringLog{Store: e.st}
	e.svc.Close()
	e.svc = openSvc(t, log, Options{Workers: 2})
	log.down.Store(true)
	first, second := updateUser("u1", "a1", `{"n":1}`), updateUser("u1", "a2", `{"n":2}`)
	first.Async, second.Async = true, true
	for _, r := range []Request{first, second} {
		if _, err := e.svc.Submit(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for log.refused.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the command was not tried again while the store refused it")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if o, _ := e.svc.Status("a2"); o.Command.Status.Final() {
		t.Fatalf("the later command finished while the first waited: %+v", o.Command)
	}
	log.down.Store(false)
	o1, o2 := e.waitFinal("a1"), e.waitFinal("a2")
	if o1.Command.Status != Completed || o2.Command.Status != Completed {
		t.Fatalf("after the store recovered: %+v / %+v", o1.Command, o2.Command)
	}
	if o1.Result.Version >= o2.Result.Version {
		t.Fatalf("the later command overtook: versions %d then %d", o1.Result.Version, o2.Result.Version)
	}
}
