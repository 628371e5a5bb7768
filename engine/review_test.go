package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"
)

// An append naming one client id twice is refused: ids are unique per
// stream, and it could never be retried idempotently.
func TestRepeatedIDInOneAppend(t *testing.T) {
	s := openT(t, t.TempDir(), Options{Fsync: FsyncNever})
	defer s.Close()
	for _, n := range []int{2, 40} { // the small (loop) and large (map) checks
		evs := make([]Proposed, n)
		for i := range evs {
			evs[i] = evID(fmt.Sprint("id", i), "T")
		}
		evs[n-1].ID = evs[0].ID
		if _, err := s.Append(ctx, "s", Any, evs); !errors.Is(err, ErrInvalidEvent) {
			t.Fatalf("n=%d: %v, want ErrInvalidEvent", n, err)
		}
	}
	// Generated ids never clash with anything.
	mustAppend(t, s, "s", Any, ev("T", `{}`), ev("T", `{}`))
	if s.Head() != 2 {
		t.Fatalf("head %d", s.Head())
	}
}

// Event and batch sizes are clamped so that no append can make the log
// refuse a write (which would fail the store for everyone).
func TestSizeLimitsClamped(t *testing.T) {
	s := openT(t, t.TempDir(), Options{Fsync: FsyncNever, MaxEventSize: 1 << 40, MaxBatchBytes: 1 << 40})
	defer s.Close()
	if s.opts.MaxEventSize != MaxEventSizeLimit || s.opts.MaxBatchBytes != maxBatchBytesLimit {
		t.Fatalf("limits not clamped: %d %d", s.opts.MaxEventSize, s.opts.MaxBatchBytes)
	}
	if _, err := s.Append(ctx, "big", Any, []Proposed{{Type: "Big", Data: make([]byte, MaxEventSizeLimit+1)}}); !errors.Is(err, ErrInvalidEvent) {
		t.Fatalf("oversize event: %v", err)
	}
	huge := make([]Proposed, 10)
	for i := range huge {
		huge[i] = Proposed{Type: "Big", Data: make([]byte, 60<<20)}
	}
	if _, err := s.Append(ctx, "big", Any, huge); !errors.Is(err, ErrInvalidEvent) {
		t.Fatalf("600 MiB append: %v", err)
	}
	mustAppend(t, s, "small", Any, ev("T", `{}`))
	if s.Err() != nil {
		t.Fatalf("store failed: %v", s.Err())
	}
}

// A segment file missing from the middle of the log is corruption: Open
// fails with it (it must not panic or paper over the gap).
func TestMissingSegmentFailsOpen(t *testing.T) {
	dir := t.TempDir()
	o := Options{Fsync: FsyncNever, SegmentSize: 4 << 10}
	s := openT(t, dir, o)
	for i := 0; i < 200; i++ {
		mustAppend(t, s, "s", Any, ev("T", `{"pad":"0123456789012345678901234567890123456789"}`))
	}
	s.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "log", "*.seg"))
	sort.Strings(segs)
	if len(segs) < 4 {
		t.Fatalf("%d segments", len(segs))
	}
	if err := os.Remove(segs[2]); err != nil {
		t.Fatal(err)
	}
	for _, ckpt := range []bool{true, false} {
		if !ckpt {
			os.Remove(filepath.Join(dir, "index", "checkpoint"))
		}
		_, err := Open(dir, o)
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("checkpoint=%v: Open: %v, want corruption", ckpt, err)
		}
	}
}

// A dedupe hash hit on another event (a collision) must neither refuse
// nor suppress a new event: hits are verified against the log.
func TestDedupeCollisionIsVerified(t *testing.T) {
	s := openT(t, t.TempDir(), Options{Fsync: FsyncNever})
	defer s.Close()
	first := mustAppend(t, s, "s", Any, evID("a", "T"))
	// Fake a collision: id "b" of stream s hashes to a key that points at "a".
	s.w.mu.Lock() // orders this write before the writer's next read
	s.w.dd.add(s.w.key("s", "b"), first.FirstPosition, first.Timestamp.UnixNano())
	s.w.mu.Unlock()
	res, err := s.Append(ctx, "s", Any, []Proposed{evID("b", "T")})
	if err != nil || res.Duplicate || res.FirstPosition != 2 {
		t.Fatalf("append after a fake collision: %+v, %v", res, err)
	}
}
