package command

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/eventd/eventd/engine"
)

// sneakyLog appends a plain event to the aggregate right before each of
// the next `left` AppendMultis, as a client bypassing commands would.
type sneakyLog struct {
	*engine.Store
	left atomic.Int64
}

func (l *sneakyLog) AppendMulti(ctx context.Context, parts []engine.StreamAppend) ([]engine.AppendResult, error) {
	if l.left.Add(-1) >= 0 {
		if _, err := l.Store.Append(ctx, parts[0].StreamID, engine.Any, []engine.Proposed{{Type: "Sneaked", Data: []byte(`{}`)}}); err != nil {
			return nil, err
		}
	}
	return l.Store.AppendMulti(ctx, parts)
}

func TestConflictRedecides(t *testing.T) {
	e := newEnv(t)
	log := &sneakyLog{Store: e.st}
	svc := openSvc(t, log, Options{MaxRetries: 3})
	defer svc.Close()
	if _, err := svc.Submit(ctx, createUser("u1", "")); err != nil {
		t.Fatal(err)
	}

	// Two conflicts, then it goes through on fresh state.
	log.left.Store(2)
	o, err := svc.Submit(ctx, updateUser("u1", "", `{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if r := completed(t, o); r.Version != 4 || svc.retries.Load() != 2 {
		t.Fatalf("result %+v after %d retries", r, svc.retries.Load())
	}

	// A conflict every time: failed after MaxRetries re-decisions.
	log.left.Store(100)
	o, err = svc.Submit(ctx, updateUser("u1", "c2", `{"a":2}`))
	if err != nil {
		t.Fatal(err)
	}
	f := failed(t, o, 409, CodeWrongExpectedVersion)
	if svc.exhausted.Load() != 1 || svc.retries.Load() != 5 {
		t.Fatalf("exhausted %d retries %d", svc.exhausted.Load(), svc.retries.Load())
	}
	var d map[string]uint64
	if err := json.Unmarshal(f.Details, &d); err != nil || d["currentVersion"] != d["expectedVersion"]+1 {
		t.Fatalf("details %s", f.Details)
	}
	log.left.Store(0)
	again, err := svc.Submit(ctx, updateUser("u1", "c2", `{"a":2}`))
	if err != nil {
		t.Fatal(err)
	}
	sameOutcome(t, o, again)

	// With the client's expectedVersion, a conflict makes it stale: 409
	// naming what the client sent.
	cur := e.version("u1")
	r := updateUser("u1", "c3", `{"a":3}`)
	r.Expected, r.ExpectedRaw = engine.ExpectedVersion(cur), []byte(fmt.Sprint(cur))
	log.left.Store(1)
	o, err = svc.Submit(ctx, r)
	if err != nil {
		t.Fatal(err)
	}
	f = failed(t, o, 409, CodeWrongExpectedVersion)
	if want := fmt.Sprintf(`{"expectedVersion":%d,"currentVersion":%d}`, cur, cur+1); string(f.Details) != want {
		t.Fatalf("details %s, want %s", f.Details, want)
	}
}

// failingLog fails AppendMulti as a store whose disk failed would.
type failingLog struct {
	*engine.Store
	fail atomic.Bool
}

func (l *failingLog) AppendMulti(ctx context.Context, parts []engine.StreamAppend) ([]engine.AppendResult, error) {
	if l.fail.Load() {
		return nil, &engine.FailedError{Err: errors.New("injected")}
	}
	return l.Store.AppendMulti(ctx, parts)
}

// TestStorageErrorRecordsNothing: a command the store refuses to write
// has no status; a resend runs it.
func TestStorageErrorRecordsNothing(t *testing.T) {
	e := newEnv(t)
	log := &failingLog{Store: e.st}
	svc := openSvc(t, log, Options{})
	defer svc.Close()
	log.fail.Store(true)
	var fe *engine.FailedError
	if _, err := svc.Submit(ctx, createUser("u1", "s1")); !errors.As(err, &fe) {
		t.Fatalf("err %v", err)
	}
	if e.st.Head() != 0 || svc.Total() != 0 {
		t.Fatalf("head %d total %d", e.st.Head(), svc.Total())
	}
	if _, err := svc.Status("s1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("status %v", err)
	}
	log.fail.Store(false)
	o, err := svc.Submit(ctx, createUser("u1", "s1"))
	if err != nil {
		t.Fatal(err)
	}
	completed(t, o)
}

// TestFiftyUpdatesOnOneUser: concurrent commands on one aggregate are
// serialized, so all succeed without a single retry.
func TestFiftyUpdatesOnOneUser(t *testing.T) {
	e := newEnv(t)
	completed(t, e.submit(createUser("u1", "")))
	const n = 50
	versions := make([]uint64, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			o, err := e.svc.Submit(ctx, updateUser("u1", "", fmt.Sprintf(`{"n":%d}`, i)))
			if err != nil {
				t.Error(err)
				return
			}
			if o.Command.Status != Completed {
				t.Errorf("update %d: %+v %+v", i, o.Command, o.Failure)
				return
			}
			versions[i] = o.Result.Version
		}()
	}
	wg.Wait()
	seen := map[uint64]bool{}
	for _, v := range versions {
		if v < 2 || v > n+1 || seen[v] {
			t.Fatalf("versions %v: want each of 2..%d once", versions, n+1)
		}
		seen[v] = true
	}
	if e.version("u1") != n+1 || e.svc.retries.Load() != 0 || e.svc.exhausted.Load() != 0 {
		t.Fatalf("version %d, retries %d, exhausted %d", e.version("u1"), e.svc.retries.Load(), e.svc.exhausted.Load())
	}
	if e.svc.locks.size() != 0 {
		t.Fatalf("%d aggregate locks left after the burst", e.svc.locks.size())
	}
}

// TestEventsAndStatusTogether: under concurrent commands on many
// aggregates and plain appends in between, every CommandCompleted sits
// right after its events, at the same timestamp.
func TestEventsAndStatusTogether(t *testing.T) {
	e := newEnv(t)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	go func() { // noise between the commands
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			_, _ = e.st.Append(ctx, fmt.Sprint("noise-", i%7), engine.Any, []engine.Proposed{{Type: "Noise", Data: []byte(`{}`)}})
		}
	}()
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 30 {
				u := fmt.Sprintf("u%d-%d", w, i%5)
				var r Request
				switch {
				case i < 5:
					r = createUser(u, "")
				case i%9 == 0:
					r = createUser(u, "") // fails: exists
				default:
					r = updateUser(u, "", fmt.Sprintf(`{"i":%d}`, i))
				}
				if _, err := e.svc.Submit(ctx, r); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	page, err := e.st.ReadAll(0, engine.Forward, 100000, engine.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	all := page.Events
	done, failures := 0, 0
	for i, ev := range all {
		if ev.StreamID != commandsStream {
			continue
		}
		if ev.Type == evFailed {
			failures++
			continue
		}
		var r record
		if err := json.Unmarshal(ev.Data, &r); err != nil || r.Result == nil {
			t.Fatalf("record %s: %v", ev.Data, err)
		}
		prev := all[i-1]
		if prev.StreamID != r.Result.StreamID || prev.Version != r.Result.Version || !prev.Timestamp.Equal(ev.Timestamp) {
			t.Fatalf("CommandCompleted at %d for %s v%d follows %s v%d", ev.Position, r.Result.StreamID, r.Result.Version, prev.StreamID, prev.Version)
		}
		if got := decode(t, prev.Metadata)["commandId"]; got != r.ID {
			t.Fatalf("event before %s's record was written by %v", r.ID, got)
		}
		done++
	}
	if done+failures != 8*30 || failures == 0 || uint64(done+failures) != e.svc.Total() {
		t.Fatalf("%d completed + %d failed records, total %d", done, failures, e.svc.Total())
	}
}

// TestEventTooLarge: an event the store refuses by size is not recorded
// (413 in the API); the command never ran.
func TestEventTooLarge(t *testing.T) {
	st, err := engine.Open(t.TempDir(), engine.Options{Fsync: engine.FsyncNever, MaxEventSize: 1024, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc := openSvc(t, st, Options{})
	defer svc.Close()
	big := fmt.Sprintf(`{"userId":"u1","email":"e","name":"%s"}`, strings.Repeat("n", 2000))
	for _, async := range []bool{false, true} {
		r := req("CreateUser", "big", big)
		r.Async = async
		if _, err := svc.Submit(ctx, r); !errors.Is(err, engine.ErrEventTooLarge) {
			t.Fatalf("async %v: err %v", async, err)
		}
	}
	if st.Head() != 0 || svc.Total() != 0 {
		t.Fatalf("head %d, total %d", st.Head(), svc.Total())
	}
	if _, err := svc.Status("big"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("status %v", err)
	}
}
