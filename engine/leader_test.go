package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventd/eventd/segment/vfs"
)

// slowSyncFS makes every file fsync take d, so that appends pile up behind
// a commit and the token is handed from caller to caller.
type slowSyncFS struct {
	vfs.FS
	d time.Duration
}

type slowSyncFile struct {
	vfs.File
	d time.Duration
}

func (f slowSyncFS) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	file, err := f.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return slowSyncFile{file, f.d}, nil
}

func (f slowSyncFile) Sync() error {
	time.Sleep(f.d)
	return f.File.Sync()
}

// within runs fn and fails the test (with every goroutine's stack) if it
// has not returned after d: a lost token shows up as a hang.
func within(t *testing.T, d time.Duration, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	select {
	case <-done:
	case <-time.After(d):
		buf := make([]byte, 1<<20)
		t.Fatalf("not done within %v (a request never answered, or the token lost?)\n%s", d, buf[:runtime.Stack(buf, true)])
	}
}

// checkAcks reopens the store on fs and checks that $all holds exactly
// acks (in any order of acknowledgement), gap-free.
func checkAcks(t *testing.T, fs vfs.FS, acks []acked) {
	t.Helper()
	sortAcks(acks)
	checkExactly(t, fs, Options{}, acks, false)
}

// Many callers append at once, singles and multi-stream appends mixed,
// while each fsync is slow: commits are shared (fewer batches than
// appends: the token went from caller to caller with the queue), every
// call is answered exactly once (release panics on a second answer) with
// its own result, versions follow the exact expected versions given, and
// after a power loss exactly the acknowledged events are there.
func TestLeaderHandOffUnderLoad(t *testing.T) {
	mem := vfs.NewMem()
	s := openT(t, "/data", Options{FS: slowSyncFS{mem, time.Millisecond}})
	const writers, multis, per = 12, 4, 40
	var mu sync.Mutex
	var acks []acked
	var calls atomic.Int64
	within(t, 60*time.Second, func() {
		var wg sync.WaitGroup
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				stream := fmt.Sprint("single-", w)
				for i := 0; i < per; i++ {
					id := fmt.Sprintf("s%d-%d", w, i)
					res, err := s.Append(ctx, stream, ExpectedVersion(i), []Proposed{evID(id, "T")})
					calls.Add(1)
					if err != nil || len(res.Events) != 1 || res.Events[0].Version != uint64(i+1) || res.Events[0].ID != id {
						t.Errorf("%s append %d: %+v, %v", stream, i, res, err)
						return
					}
					mu.Lock()
					acks = append(acks, acked{stream, id, res.Events[0].Version, res.Events[0].Position})
					mu.Unlock()
				}
			}()
		}
		for m := 0; m < multis; m++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				a, b := fmt.Sprint("multi-a-", m), fmt.Sprint("multi-b-", m)
				for i := 0; i < per; i++ {
					ia, ib := fmt.Sprintf("a%d-%d", m, i), fmt.Sprintf("b%d-%d", m, i)
					res, err := s.AppendMulti(ctx, []StreamAppend{
						{StreamID: a, Expected: ExpectedVersion(i), Events: []Proposed{evID(ia, "T")}},
						{StreamID: b, Expected: ExpectedVersion(i), Events: []Proposed{evID(ib, "T")}},
					})
					calls.Add(1)
					if err != nil || len(res) != 2 || res[0].Events[0].ID != ia || res[1].Events[0].ID != ib ||
						res[1].FirstPosition != res[0].FirstPosition+1 {
						t.Errorf("multi %d append %d: %+v, %v", m, i, res, err)
						return
					}
					mu.Lock()
					acks = append(acks, acked{a, ia, res[0].Events[0].Version, res[0].FirstPosition},
						acked{b, ib, res[1].Events[0].Version, res[1].FirstPosition})
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
	})
	if t.Failed() {
		return
	}
	st := s.Stats()
	if st.Appends != uint64(calls.Load()) || st.Head != uint64(len(acks)) {
		t.Fatalf("stats %+v after %d calls, %d events acknowledged", st, calls.Load(), len(acks))
	}
	if st.Batches >= st.Appends {
		t.Fatalf("%d batches for %d appends: no group commit under slow fsyncs", st.Batches, st.Appends)
	}
	t.Logf("%d appends in %d batches", st.Appends, st.Batches)
	crashed := mem.Crash() // Close below must not be what makes them durable
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	checkAcks(t, crashed, acks)
}

// Close while appends are in flight: it commits what was queued before it
// and refuses the rest with ErrClosed; every call returns, and a reopen
// finds exactly the acknowledged events.
func TestCloseWhileAppending(t *testing.T) {
	mem := vfs.NewMem()
	s := openT(t, "/data", Options{FS: slowSyncFS{mem, 200 * time.Microsecond}})
	var acks []acked
	within(t, 60*time.Second, func() {
		wait := appendUntil(t, s, 16, 0, func(err error) bool { return errors.Is(err, ErrClosed) })
		time.Sleep(100 * time.Millisecond)
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		acks = wait()
	})
	if t.Failed() {
		return
	}
	if len(acks) == 0 {
		t.Fatal("nothing was appended before Close")
	}
	checkAcks(t, mem, acks)
}

// A failed fsync while many callers wait: every one of them returns, those
// of the failed batch and every later one with the sticky *FailedError,
// nothing after the failure is acknowledged, and a power loss keeps
// exactly what was.
func TestFsyncFailureUnderConcurrentAppends(t *testing.T) {
	mem := vfs.NewMem()
	fault := vfs.NewFault(slowSyncFS{mem, 300 * time.Microsecond})
	s := openT(t, "/data", Options{FS: fault})
	fault.FailSyncAt(fault.Syncs() + 40)
	var acks []acked
	var failures atomic.Int64
	within(t, 60*time.Second, func() {
		acks = appendUntil(t, s, 16, 200, func(err error) bool {
			var fe *FailedError
			failures.Add(1)
			return errors.As(err, &fe) && !fe.Recoverable
		})()
	})
	if t.Failed() {
		return
	}
	if failures.Load() != 16 || s.Err() == nil {
		t.Fatalf("%d callers saw the failure, Err %v", failures.Load(), s.Err())
	}
	if h := s.Head(); h != uint64(len(acks)) {
		t.Fatalf("head %d, %d acknowledged", h, len(acks))
	}
	crashed := mem.Crash()
	s.Close()
	checkAcks(t, crashed, acks)
}

// appendUntil starts writers goroutines, each appending one event at a time
// (expected version Any) to its own stream w-<n>, until it has made max
// appends (0: no limit) or an append fails: an error stop accepts ends the
// writer, any other fails the test. The returned wait blocks until every
// writer has returned and gives the acknowledged events.
func appendUntil(t *testing.T, s *Store, writers, max int, stop func(error) bool) (wait func() []acked) {
	var mu sync.Mutex
	var acks []acked
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stream := fmt.Sprint("w-", w)
			for i := 0; max == 0 || i < max; i++ {
				id := fmt.Sprintf("%d-%d", w, i)
				res, err := s.Append(ctx, stream, Any, []Proposed{evID(id, "T")})
				if err != nil {
					if !stop(err) {
						t.Errorf("append: %v", err)
					}
					return
				}
				mu.Lock()
				acks = append(acks, acked{stream, id, res.Events[0].Version, res.FirstPosition})
				mu.Unlock()
			}
		}()
	}
	return func() []acked { wg.Wait(); return acks }
}

// Under FsyncInterval, appends go on while commits carry the interval
// fsyncs (pass does them when due), and once callers stop, the background
// goroutine takes the token and fsyncs by itself: what was written is
// durable an interval later. (Under load the fsyncs are the holders'; the
// background path is what this test pins down, at the idle tail.)
func TestIntervalFsyncTakesToken(t *testing.T) {
	mem := vfs.NewMem()
	s := openT(t, "/data", Options{FS: mem, Fsync: FsyncInterval, FsyncInterval: 2 * time.Millisecond})
	defer s.Close()
	within(t, 30*time.Second, func() {
		var wg sync.WaitGroup
		for w := 0; w < 4; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for end := time.Now().Add(100 * time.Millisecond); time.Now().Before(end); {
					if _, err := s.Append(ctx, fmt.Sprint("w-", w), Any, []Proposed{ev("T", `{}`)}); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		head := s.Head()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			if c := mem.Crash(); func() bool {
				c2 := openT(t, "/data", Options{FS: c})
				defer c2.Close()
				return c2.Head() == head
			}() {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the last interval's events were not fsynced within 5s (head %d)", head)
			}
		}
	})
}

// An append whose context is done before it is queued is refused and
// writes nothing; one queued is answered even if its context ends while it
// waits (it cannot be taken back once queued).
func TestAppendContext(t *testing.T) {
	s := openT(t, t.TempDir(), Options{})
	defer s.Close()
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Append(cctx, "s", Any, []Proposed{ev("T", `{}`)}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled append: %v", err)
	}
	if _, err := s.AppendMulti(cctx, []StreamAppend{{StreamID: "s", Expected: Any, Events: []Proposed{ev("T", `{}`)}}}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled multi append: %v", err)
	}
	if s.Head() != 0 {
		t.Fatalf("head %d after refused appends", s.Head())
	}
	within(t, 30*time.Second, func() {
		var wg sync.WaitGroup
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < 50; i++ {
					c, cancel := context.WithCancel(ctx)
					go cancel() // races with queueing: refused or done, never both
					res, err := s.Append(c, fmt.Sprint("c-", w), Any, []Proposed{ev("T", `{}`)})
					if err == nil && res.FirstPosition == 0 || err != nil && !errors.Is(err, context.Canceled) {
						t.Errorf("append: %+v, %v", res, err)
					}
					cancel()
				}
			}()
		}
		wg.Wait()
	})
	// Every acknowledged append is in the log, and nothing else.
	if st := s.Stats(); st.Head != st.Appends {
		t.Fatalf("head %d, %d appends acknowledged", st.Head, st.Appends)
	}
}

// Under FsyncInterval a failed fsync is sticky and is not retried: the
// holder stops publishing an interval fsync for the background goroutine
// (which, woken for it, would take the token again and again: the log
// answers a failed Sync at once).
func TestIntervalFsyncFailureNotRetried(t *testing.T) {
	fault := vfs.NewFault(vfs.NewMem())
	s := openT(t, "/data", Options{FS: fault, Fsync: FsyncInterval, FsyncInterval: time.Millisecond})
	defer s.Close()
	fault.FailSyncAt(fault.Syncs())
	if _, err := s.Append(ctx, "s", Any, []Proposed{ev("T", `{}`)}); err != nil {
		t.Fatal(err) // written: under interval the answer does not wait for the fsync
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.Err() == nil {
		if time.Now().After(deadline) {
			t.Fatal("the failed interval fsync did not make the store fail")
		}
		time.Sleep(time.Millisecond)
	}
	// The failing holder hands the token on and asks for no more interval
	// fsyncs (a retry would keep syncAt set).
	syncAt := func() time.Time {
		s.w.mu.Lock()
		defer s.w.mu.Unlock()
		return s.w.syncAt
	}
	for deadline = time.Now().Add(5 * time.Second); !syncAt().IsZero(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("an interval fsync is still asked for after the sticky failure (at %v)", syncAt())
		}
	}
}

// When the queue is longer than one batch (MaxBatchEvents 1 here), each
// holder commits one batch and hands the token on: a caller answers for
// its own batch, never for the fsyncs of the ones queued behind it. So an
// append returns about when its batch is durable, in position order
// (before, the head of a split queue waited for every batch in it, and
// returned after appends positioned well after its own).
func TestHolderCommitsOneBatch(t *testing.T) {
	const fsync = 40 * time.Millisecond
	s := openT(t, t.TempDir(), Options{FS: slowSyncFS{vfs.OS(), fsync}, Fsync: FsyncAlways, MaxBatchEvents: 1})
	defer s.Close()
	mustAppend(t, s, "warm", Any, ev("T", `{}`))
	type ret struct {
		pos uint64
		at  time.Time
	}
	rets := make(chan ret, 8)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			res, err := s.Append(ctx, fmt.Sprintf("s-%d", i), Any, []Proposed{ev("T", `{}`)})
			if err != nil {
				t.Error(err)
				return
			}
			rets <- ret{res.LastPosition, time.Now()}
		})
	}
	within(t, 20*time.Second, wg.Wait)
	close(rets)
	var all []ret
	for r := range rets {
		all = append(all, r)
	}
	slices.SortFunc(all, func(x, y ret) int { return cmp.Compare(x.pos, y.pos) })
	for i := 1; i < len(all); i++ {
		// Position i-1's batch was durable a whole fsync before position
		// i's; allow scheduling noise up to 2 fsyncs the other way.
		if late := all[i-1].at.Sub(all[i].at); late > 2*fsync {
			t.Fatalf("the append at %d returned %v after the one at %d: it waited for batches behind its own", all[i-1].pos, late, all[i].pos)
		}
	}
}
