package segment

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/eventd/eventd/segment/vfs"
)

func TestEmptyLog(t *testing.T) {
	dir := t.TempDir()
	l := mustOpen(t, vfs.OS(), dir, Options{})
	if l.LastPosition() != 0 || len(l.Segments()) != 1 {
		t.Fatal(l.LastPosition(), l.Segments())
	}
	checkLog(t, l, 0)
	mustClose(t, l)
	l = mustOpen(t, vfs.OS(), dir, Options{})
	checkLog(t, l, 0)
	mustClose(t, l)
}

func TestReplayAfter(t *testing.T) {
	fs := vfs.NewMem()
	last, locs := rolledLog(t, fs, "/log", 4)
	l := mustOpen(t, fs, "/log", Options{SegmentSize: 8 << 10})
	defer mustClose(t, l)
	for _, after := range []uint64{0, 1, 3, 4, 5, last / 2, last - 1, last, last + 10} {
		want := after + 1
		err := l.Replay(after, func(r *Record, loc Loc) error {
			if r.Position != want || loc != locs[want] {
				t.Fatalf("after %d: got position %d at %x, want %d at %x", after, r.Position, loc, want, locs[want])
			}
			checkRecord(t, r, want)
			want++
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if want-1 != max(last, after) {
			t.Fatalf("after %d: replay ended at %d", after, want-1)
		}
	}
	stop := errors.New("stop")
	if err := l.Replay(0, func(*Record, Loc) error { return stop }); err != stop {
		t.Fatalf("Replay returned %v, want the callback's error", err)
	}
}

func TestReadAt(t *testing.T) {
	fs := vfs.NewMem()
	l := mustOpen(t, fs, "/log", Options{DisablePrealloc: true})
	defer mustClose(t, l)
	locs := writeFrames(t, l, 2, 2, true)
	off := LocOffset(locs[1])
	hdr := make([]byte, recordHeaderSize)
	if n, err := l.ReadAt(0, hdr, off); n != len(hdr) || err != nil {
		t.Fatal(n, err)
	}
	end := l.Segments()[0].Size
	if n, err := l.ReadAt(0, make([]byte, 100), end-10); n != 10 || err != io.EOF {
		t.Fatalf("read past the data end: %d, %v", n, err)
	}
	if _, err := l.ReadAt(7, hdr, 0); !errors.Is(err, ErrOutOfRange) {
		t.Fatal(err)
	}
	if _, _, err := l.ReadRecord(MakeLoc(0, end), nil); !errors.Is(err, ErrOutOfRange) {
		t.Fatal(err)
	}
}

func TestReadRecordLarge(t *testing.T) {
	fs := vfs.NewMem()
	l := mustOpen(t, fs, "/log", Options{DisablePrealloc: true})
	defer mustClose(t, l)
	var b Batch
	b.Reset(1)
	big := Record{Position: 1, StreamID: "s", Data: make([]byte, 100000)}
	for i := range big.Data {
		big.Data[i] = byte(i)
	}
	rel := b.Add(&big)
	seg, off, err := l.Write(&b)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 0, 16)
	r, buf, err := l.ReadRecord(MakeLoc(seg, off+int64(rel)), buf)
	if err != nil || !recordsEqual(&r, &big) || cap(buf) < 100000 {
		t.Fatalf("large record: %v", err)
	}
}

func TestTruncateAfter(t *testing.T) {
	fs := vfs.NewMem()
	last, locs := rolledLog(t, fs, "/log", 5)
	opts := Options{SegmentSize: 8 << 10}
	l := mustOpen(t, fs, "/log", opts)
	if err := l.TruncateAfter(last - 2); err == nil {
		t.Fatal("truncating inside a frame succeeded")
	}
	// Cut at a frame boundary inside segment 1: later segments go.
	var pos uint64
	for p := uint64(4); p < last; p += 4 {
		if LocSegment(locs[p]) == 1 && LocSegment(locs[p+4]) == 1 {
			pos = p
			break
		}
	}
	if err := l.TruncateAfter(pos); err != nil {
		t.Fatal(err)
	}
	if n := len(l.Segments()); n != 2 {
		t.Fatalf("%d segments after truncate, want 2", n)
	}
	checkLog(t, l, pos)
	writeFrames(t, l, 30, 4, true)
	checkLog(t, l, pos+120)
	mustClose(t, l)
	l = mustOpen(t, fs, "/log", Options{SegmentSize: 8 << 10, VerifyFull: true})
	checkLog(t, l, pos+120)
	// Cut at a segment's first position - 1, and to nothing.
	second := l.Segments()[1].FirstPos
	if err := l.TruncateAfter(second - 1); err != nil {
		t.Fatal(err)
	}
	checkLog(t, l, second-1)
	if err := l.TruncateAfter(0); err != nil {
		t.Fatal(err)
	}
	checkLog(t, l, 0)
	writeFrames(t, l, 3, 2, true)
	mustClose(t, l)
	l = mustOpen(t, fs, "/log", Options{VerifyFull: true})
	checkLog(t, l, 6)
	mustClose(t, l)
	// The crashed image agrees: everything TruncateAfter did was synced.
	l = mustOpen(t, fs.Crash(), "/log", Options{VerifyFull: true})
	checkLog(t, l, 6)
	mustClose(t, l)
}

func TestUseAfterClose(t *testing.T) {
	l := mustOpen(t, vfs.NewMem(), "/log", Options{})
	writeFrames(t, l, 1, 1, false)
	mustClose(t, l)
	if err := l.Sync(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Sync after Close: %v", err)
	}
	var b Batch
	b.Reset(2)
	r := testRecord(2)
	b.Add(&r)
	if _, _, err := l.Write(&b); !errors.Is(err, ErrClosed) {
		t.Fatalf("Write after Close: %v", err)
	}
	if err := l.TruncateAfter(0); !errors.Is(err, ErrClosed) {
		t.Fatalf("TruncateAfter after Close: %v", err)
	}
	if err := l.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
}

// TestConcurrentReaders: readers use published Locs while the writer
// appends and rolls, and a syncer syncs (run with -race).
func TestConcurrentReaders(t *testing.T) {
	l := mustOpen(t, vfs.OS(), t.TempDir(), Options{SegmentSize: 16 << 10})
	var published atomic.Pointer[[]Loc]
	published.Store(&[]Loc{})
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			for !stop.Load() {
				locs := *published.Load()
				for i := len(locs) - 1; i >= 0 && i >= len(locs)-20; i-- {
					var r Record
					var err error
					r, buf, err = l.ReadRecord(locs[i], buf)
					if err != nil {
						t.Error(err)
						return
					}
					if r.Position != uint64(i+1) {
						t.Errorf("read position %d, want %d", r.Position, i+1)
						return
					}
				}
				_ = l.Segments()
			}
		}()
	}
	wg.Add(1)
	go func() { // the interval syncer
		defer wg.Done()
		for !stop.Load() {
			if err := l.Sync(); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	scrubs := make(chan error, 1)
	go func() { scrubs <- l.Scrub(context.Background()) }()
	all := make([]Loc, 0, 3000)
	for range 300 {
		locs := writeFrames(t, l, 1, 10, false)
		for p := uint64(len(all)) + 1; p <= l.LastPosition(); p++ {
			all = append(all, locs[p])
		}
		cp := append([]Loc(nil), all...)
		published.Store(&cp)
	}
	stop.Store(true)
	wg.Wait()
	if err := <-scrubs; err != nil {
		t.Fatal(err)
	}
	checkLog(t, l, 3000)
	mustClose(t, l)
}
