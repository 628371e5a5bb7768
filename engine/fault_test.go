package engine

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/eventd/eventd/segment/vfs"
)

// acked is what a client was told was written.
type acked struct {
	stream string
	id     string
	ver    uint64
	pos    uint64
}

// appendSome appends n events (single and batched) one call at a time and
// returns what was acknowledged, stopping at the first error. After an
// error, every later append must fail too (the failure is sticky).
func appendSome(t *testing.T, s *Store, n int) (acks []acked, failed bool) {
	t.Helper()
	for i := 0; i < n; i++ {
		stream := fmt.Sprintf("s-%d", i%3)
		evs := []Proposed{evID(fmt.Sprint("e", i), "T")}
		if i%4 == 3 {
			evs = append(evs, evID(fmt.Sprint("e", i, "b"), "T"), evID(fmt.Sprint("e", i, "c"), "T"))
		}
		res, err := s.Append(ctx, stream, Any, evs)
		if err != nil {
			var fe *FailedError
			if !errors.As(err, &fe) {
				t.Fatalf("append %d: %v, want a *FailedError", i, err)
			}
			if _, err := s.Append(ctx, "other", Any, []Proposed{ev("T", `{}`)}); !errors.As(err, &fe) {
				t.Fatalf("append after a failure: %v, want the sticky *FailedError", err)
			}
			if s.Err() == nil || len(s.Problems()) == 0 {
				t.Fatal("failure not visible in Err/Problems")
			}
			return acks, true
		}
		for _, e := range res.Events {
			acks = append(acks, acked{stream, e.ID, e.Version, e.Position})
		}
	}
	return acks, false
}

// checkExactly opens the store on fs and checks that $all holds exactly the
// acknowledged events, in order, with no gap (nothing unacknowledged: the
// callers crash-clone, which drops what was never fsynced).
func checkExactly(t *testing.T, fs vfs.FS, o Options, acks []acked, allowMore bool) {
	t.Helper()
	o.FS = fs
	s := openT(t, "/data", o)
	defer s.Close()
	page, err := s.ReadAll(0, Forward, 10000, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Events) < len(acks) || (!allowMore && len(page.Events) != len(acks)) {
		t.Fatalf("reopened with %d events, %d were acknowledged", len(page.Events), len(acks))
	}
	for i, e := range page.Events {
		if e.Position != uint64(i+1) {
			t.Fatalf("gap: index %d has position %d", i, e.Position)
		}
		if i < len(acks) {
			a := acks[i]
			if e.ID != a.id || e.StreamID != a.stream || e.Version != a.ver || e.Position != a.pos {
				t.Fatalf("event %d: %s/%s v%d p%d, acknowledged %+v", i, e.StreamID, e.ID, e.Version, e.Position, a)
			}
		}
	}
	// The store accepts appends again, after what survived.
	if _, err := s.Append(ctx, "after", Any, []Proposed{ev("T", `{}`)}); err != nil {
		t.Fatalf("append after recovery: %v", err)
	}
}

// TestFaultSweep fails the N-th write (then the N-th sync) for N = 0, 1, …
// until a run finishes without reaching N, and checks after a power loss
// that exactly the acknowledged events survived.
func TestFaultSweep(t *testing.T) {
	for _, kind := range []string{"write", "sync"} {
		t.Run(kind, func(t *testing.T) {
			for n := 0; n < 400; n++ {
				mem := vfs.NewMem()
				fs := vfs.NewFault(mem)
				if kind == "write" {
					fs.FailWriteAt(int64(n))
				} else {
					fs.FailSyncAt(int64(n))
				}
				o := Options{FS: fs, SegmentSize: 16 << 10, CheckpointEvery: 25}
				s, err := Open("/data", o)
				if err != nil {
					if !errors.Is(err, vfs.ErrInjected) {
						t.Fatalf("n=%d: Open: %v", n, err)
					}
					checkExactly(t, mem.Crash(), Options{SegmentSize: 16 << 10}, nil, false)
					continue
				}
				acks, failed := appendSome(t, s, 60)
				s.Close()
				checkExactly(t, mem.Crash(), Options{SegmentSize: 16 << 10}, acks, false)
				if !failed {
					return // the fault was never reached: the sweep is complete
				}
			}
			t.Fatal("sweep did not finish in 400 steps")
		})
	}
}

// TestPowerLossUnderLoad crash-clones the file system at random moments while
// several goroutines append, and checks that every event acknowledged before
// the clone is in it.
func TestPowerLossUnderLoad(t *testing.T) {
	for _, policy := range []FsyncPolicy{FsyncAlways} {
		mem := vfs.NewMem()
		o := Options{FS: mem, SegmentSize: 64 << 10, Fsync: policy, CheckpointEvery: 500}
		s := openT(t, "/data", o)
		var mu sync.Mutex
		var acks []acked
		var wg sync.WaitGroup
		stop := make(chan struct{})
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					stream := fmt.Sprintf("w%d-%d", w, i%3)
					res, err := s.Append(ctx, stream, Any, []Proposed{evID(fmt.Sprint(w, "-", i), "T"), evID(fmt.Sprint(w, "-", i, "b"), "T")})
					if err != nil {
						t.Errorf("append: %v", err)
						return
					}
					mu.Lock()
					for _, e := range res.Events {
						acks = append(acks, acked{stream, e.ID, e.Version, e.Position})
					}
					mu.Unlock()
				}
			}()
		}
		for round := 0; round < 10; round++ {
			mu.Lock()
			before := append([]acked(nil), acks...)
			mu.Unlock()
			crashed := mem.Crash()
			c := openT(t, "/data", Options{FS: crashed, SegmentSize: 64 << 10})
			for _, a := range before {
				p, err := c.ReadStream(a.stream, a.ver-1, Forward, 1)
				if err != nil || len(p.Events) != 1 || p.Events[0].ID != a.id || p.Events[0].Position != a.pos {
					t.Fatalf("round %d: acknowledged %+v missing after power loss (%v)", round, a, err)
				}
			}
			all, err := c.ReadAll(0, Forward, 10000, Filter{})
			if err != nil {
				t.Fatal(err)
			}
			for i, e := range all.Events {
				if e.Position != uint64(i+1) {
					t.Fatalf("round %d: gap at %d", round, i)
				}
			}
			c.Close()
		}
		close(stop)
		wg.Wait()
		s.Close()
	}
}
