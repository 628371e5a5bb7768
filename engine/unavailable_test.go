package engine

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eventd/eventd/segment"
	"github.com/eventd/eventd/segment/vfs"
)

// recoverable checks that err is a Recoverable *FailedError wrapping cause.
func recoverable(t *testing.T, err, cause error) {
	t.Helper()
	var fe *FailedError
	if !errors.As(err, &fe) || !fe.Recoverable || !errors.Is(err, cause) || !errors.Is(err, segment.ErrNotWritten) {
		t.Fatalf("got %v, want a Recoverable *FailedError wrapping %v", err, cause)
	}
}

// waitAppend retries an append until it is written (10 s at most).
func waitAppend(t *testing.T, s *Store, stream string, evs ...Proposed) AppendResult {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := s.Append(ctx, stream, Any, evs)
		if err == nil {
			return res
		}
		if time.Now().After(deadline) {
			t.Fatalf("appends not taken again within 10s: %v (Err %v)", err, s.Err())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The disk fills up under concurrent appenders: appends fail with a
// Recoverable *FailedError (ENOSPC) and the store reports why (Err,
// Problems) without being sticky. Freeing space (the ballast) is all it
// takes: a probe finds room and appends are taken again, without a
// restart. Every acknowledged event is there, positions are gap-free (the
// failed batches' positions were used again), nothing unacknowledged shows
// up, and a reopen or a power loss keeps exactly the acknowledged events.
func TestDiskFullRecovers(t *testing.T) {
	mem := vfs.NewMem()
	mem.SetCapacity(2 << 20)
	if err := mem.MkdirAll("/", 0o755); err != nil {
		t.Fatal(err)
	}
	ballast, err := mem.OpenFile("/ballast", os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ballast.WriteAt(make([]byte, 512<<10), 0); err != nil {
		t.Fatal(err)
	}
	ballast.Close()
	o := Options{FS: mem, SegmentSize: 128 << 10, probeEvery: 5 * time.Millisecond}
	s := openT(t, "/data", o)
	defer s.Close()

	var mu sync.Mutex
	var acks []acked
	record := func(stream string, res AppendResult) {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range res.Events {
			acks = append(acks, acked{stream, e.ID, e.Version, e.Position})
		}
	}
	data := strings.Repeat("x", 900)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for w := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stream := fmt.Sprint("w-", w)
			for i := 0; ; i++ {
				evs := []Proposed{evID(fmt.Sprint(w, "-", i), "T"), {ID: fmt.Sprint(w, "-", i, "b"), Type: "T", Data: []byte(`"` + data + `"`)}}
				res, err := s.Append(ctx, stream, Any, evs)
				if err != nil {
					errs[w] = err
					return
				}
				record(stream, res)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		recoverable(t, err, syscall.ENOSPC)
	}
	full := s.Err()
	recoverable(t, full, syscall.ENOSPC)
	if p := s.Problems(); len(p) != 1 || !strings.Contains(p[0], "no space left") {
		t.Fatalf("Problems while full: %q", p)
	}
	if s.Degraded() {
		t.Fatal("a full disk is no corruption")
	}
	head := s.Head()
	if _, err := s.Append(ctx, "x", Any, []Proposed{ev("T", `{}`)}); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("append while full: %v", err)
	}
	if s.Head() != head || uint64(len(acks)) != head {
		t.Fatalf("head %d (was %d), %d acknowledged", s.Head(), head, len(acks))
	}

	if err := mem.Remove("/ballast"); err != nil {
		t.Fatal(err)
	}
	res := waitAppend(t, s, "after", evID("after-1", "T"))
	if res.FirstPosition != head+1 {
		t.Fatalf("first append after the disk had room again at position %d, head was %d", res.FirstPosition, head)
	}
	record("after", res)
	if s.Err() != nil || len(s.Problems()) != 0 {
		t.Fatalf("still reported after recovery: %v %q", s.Err(), s.Problems())
	}
	for i := 2; i <= 20; i++ {
		record("after", mustAppend(t, s, "after", Any, evID(fmt.Sprint("after-", i), "T")))
	}
	sortAcks(acks)
	checkAcked(t, s, acks)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	crashed := mem.Crash() // checkExactly appends one more event
	checkExactly(t, mem, Options{SegmentSize: 128 << 10}, acks, false)
	checkExactly(t, crashed, Options{SegmentSize: 128 << 10}, acks, false)
}

func sortAcks(a []acked) {
	slices.SortFunc(a, func(x, y acked) int { return cmp.Compare(x.pos, y.pos) })
}

// checkAcked reads $all from the running store: exactly the acknowledged
// events, in position order, from 1 without a gap.
func checkAcked(t *testing.T, s *Store, acks []acked) {
	t.Helper()
	page, err := s.ReadAll(0, Forward, 100000, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Events) != len(acks) {
		t.Fatalf("$all holds %d events, %d were acknowledged", len(page.Events), len(acks))
	}
	for i, e := range page.Events {
		a := acks[i]
		if e.Position != uint64(i+1) || e.ID != a.id || e.StreamID != a.stream || e.Version != a.ver || e.Position != a.pos {
			t.Fatalf("event %d: %s/%s v%d p%d, acknowledged %+v", i, e.StreamID, e.ID, e.Version, e.Position, a)
		}
	}
}

// TestNoSpaceSweep fails WriteAt n (and every later one) with ENOSPC, for
// n = 0, 1, … until a run never reaches it. The store must never turn
// sticky; once the fault is lifted it resumes by itself, and in the end,
// after a power loss too, exactly the acknowledged events are there.
func TestNoSpaceSweep(t *testing.T) {
	for n := 0; n < 1000; n++ {
		mem := vfs.NewMem()
		fs := vfs.NewFault(mem)
		fs.FailWriteWith(int64(n), syscall.ENOSPC)
		o := Options{FS: fs, SegmentSize: 16 << 10, CheckpointEvery: 25, probeEvery: time.Millisecond}
		s, err := Open("/data", o)
		if err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("n=%d: Open: %v", n, err)
			}
			continue
		}
		var acks []acked
		failed := false
		for i := 0; i < 60; i++ {
			stream := fmt.Sprintf("s-%d", i%3)
			evs := []Proposed{evID(fmt.Sprint("e", i), "T")}
			if i%4 == 3 {
				evs = append(evs, evID(fmt.Sprint("e", i, "b"), "T"), evID(fmt.Sprint("e", i, "c"), "T"))
			}
			res, err := s.Append(ctx, stream, Any, evs)
			if err != nil {
				recoverable(t, err, syscall.ENOSPC)
				failed = true
				fs.FailWriteWith(-1, nil)
				res = waitAppend(t, s, stream, evs...)
			}
			for _, e := range res.Events {
				acks = append(acks, acked{stream, e.ID, e.Version, e.Position})
			}
		}
		if err := s.Close(); err != nil {
			t.Fatalf("n=%d: Close: %v", n, err)
		}
		crashed := mem.Crash() // checkExactly appends one more event
		checkExactly(t, mem, Options{SegmentSize: 16 << 10}, acks, false)
		checkExactly(t, crashed, Options{SegmentSize: 16 << 10}, acks, false)
		if !failed && fs.Writes() < int64(n) {
			return // the fault was never reached: the sweep is complete
		}
	}
	t.Fatal("the sweep did not finish in 1000 steps")
}

// With many connections open, the next roll cannot create its segment
// (EMFILE): that batch fails with a Recoverable *FailedError, the store is
// not failed (Err nil), and the next append rolls and goes on at the same
// position.
func TestRollEMFILEIsNotSticky(t *testing.T) {
	mem := vfs.NewMem()
	fs := vfs.NewFault(mem)
	s := openT(t, "/data", Options{FS: fs, SegmentSize: 16 << 10})
	defer s.Close()
	var acks []acked
	for i := 0; i < 10; i++ {
		res := mustAppend(t, s, "a", Any, evID(fmt.Sprint("a-", i), "T"))
		acks = append(acks, acked{"a", res.Events[0].ID, res.Events[0].Version, res.Events[0].Position})
	}
	fs.FailOpenAt(fs.Opens(), syscall.EMFILE)
	var err error
	for i := 10; err == nil; i++ {
		if i > 10000 {
			t.Fatal("no roll in 10000 appends")
		}
		var res AppendResult
		if res, err = s.Append(ctx, "a", Any, []Proposed{evID(fmt.Sprint("a-", i), "T")}); err == nil {
			acks = append(acks, acked{"a", res.Events[0].ID, res.Events[0].Version, res.Events[0].Position})
		}
	}
	recoverable(t, err, syscall.EMFILE)
	if s.Err() != nil || len(s.Problems()) != 0 {
		t.Fatalf("one failed roll made the store report %v %q", s.Err(), s.Problems())
	}
	fs.FailOpenAt(-1, nil)
	res := mustAppend(t, s, "a", Any, evID("next", "T"))
	if res.FirstPosition != uint64(len(acks))+1 || res.FirstVersion != uint64(len(acks))+1 {
		t.Fatalf("the append after the failed roll is at position %d version %d, want %d", res.FirstPosition, res.FirstVersion, len(acks)+1)
	}
	acks = append(acks, acked{"a", "next", res.FirstVersion, res.FirstPosition})
	checkAcked(t, s, acks)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	checkExactly(t, mem.Crash(), Options{SegmentSize: 16 << 10}, acks, false)
}

// A failed fsync stays sticky: healing the disk does not bring the store
// back, and Err says it is no recoverable failure.
func TestFsyncErrorStaysSticky(t *testing.T) {
	mem := vfs.NewMem()
	fs := vfs.NewFault(mem)
	s := openT(t, "/data", Options{FS: fs, probeEvery: time.Millisecond})
	defer s.Close()
	mustAppend(t, s, "a", Any, ev("T", `{}`))
	fs.FailSyncWith(fs.Syncs(), syscall.EIO)
	_, err := s.Append(ctx, "a", Any, []Proposed{ev("T", `{}`)})
	var fe *FailedError
	if !errors.As(err, &fe) || fe.Recoverable || !errors.Is(err, syscall.EIO) {
		t.Fatalf("append with a failing fsync: %v, want a sticky *FailedError", err)
	}
	fs.FailSyncWith(-1, nil)
	time.Sleep(20 * time.Millisecond)
	if _, err := s.Append(ctx, "a", Any, []Proposed{ev("T", `{}`)}); !errors.As(err, &fe) || fe.Recoverable {
		t.Fatalf("append after the disk healed: %v, want the sticky failure", err)
	}
	if s.Err() == nil {
		t.Fatal("Err is nil after a failed fsync")
	}
}

// Close while the disk is full: the log is synced, the checkpoint that
// finds no room is skipped (not an error), and the store reopens with
// every acknowledged event.
func TestCloseWhileFull(t *testing.T) {
	mem := vfs.NewMem()
	mem.SetCapacity(256 << 10)
	s := openT(t, "/data", Options{FS: mem, SegmentSize: 64 << 10, probeEvery: time.Hour})
	var acks []acked
	for i := 0; ; i++ {
		res, err := s.Append(ctx, "a", Any, []Proposed{evID(fmt.Sprint(i), "T")})
		if err != nil {
			recoverable(t, err, syscall.ENOSPC)
			break
		}
		acks = append(acks, acked{"a", res.Events[0].ID, res.Events[0].Version, res.Events[0].Position})
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close while full: %v", err)
	}
	mem.SetCapacity(0)
	checkExactly(t, mem, Options{SegmentSize: 64 << 10}, acks, false)
}
