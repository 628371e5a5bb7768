package index

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/cespare/xxhash/v2"
)

func checkpoint(t testing.TB, ix *Index, extra []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := ix.WriteCheckpoint(&buf, extra); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// sameIndex compares everything the readers can see.
func sameIndex(t testing.TB, a, b *Index) {
	t.Helper()
	if a.Head() != b.Head() || a.Len() != b.Len() {
		t.Fatalf("Head/Len %d/%d vs %d/%d", a.Head(), a.Len(), b.Head(), b.Len())
	}
	sa, sb := ascendAll(a, "", "", 0), ascendAll(b, "", "", 0)
	if !slices.EqualFunc(sa, sb, sameStream) {
		t.Fatal("streams differ")
	}
	if !slices.Equal(a.LocateRange(1, int(a.Head()), nil), b.LocateRange(1, int(b.Head()), nil)) {
		t.Fatal("Locs differ")
	}
	if !slices.Equal(segSpans(a), segSpans(b)) {
		t.Fatal("segments differ")
	}
}

// randomIndex indexes n events over streams streams, rolling segments
// every perSegment events.
func randomIndex(seed uint64, n, streams, perSegment int) *Index {
	rng := rand.New(rand.NewPCG(seed, 1))
	ix := New()
	batch := make([]Entry, 0, 100)
	for i := range n {
		pos := uint64(i + 1)
		loc := L(uint64(i/perSegment), uint64(i%perSegment)*100)
		batch = append(batch, Entry{Pos: pos, StreamID: fmt.Sprintf("s-%d", rng.IntN(streams)), Loc: loc, Timestamp: int64(pos) * 1000})
		if len(batch) == cap(batch) || i == n-1 {
			ix.Apply(batch)
			batch = batch[:0]
		}
	}
	return ix
}

func TestCheckpointRoundTrip(t *testing.T) {
	small := New()
	applyEvents(small, []ev{{"a", L(0, 0)}, {"b", L(0, 50)}, {"a", L(1, 0)}})
	cases := []struct {
		name  string
		ix    *Index
		extra []byte
	}{
		{"empty", New(), nil},
		{"empty with extra", New(), []byte("engine state")},
		{"small", small, []byte{1, 2, 3}},
		{"many streams and segments", randomIndex(1, 3*chunkSize+99, 5000, 7000), bytes.Repeat([]byte("x"), 1000)},
		{"one big stream", randomIndex(2, 40000, 1, 1000), nil},
		{"huge offsets", func() *Index {
			ix := New()
			applyEvents(ix, []ev{{"a", L(1<<24-1, 1<<40-1)}, {"b", L(1<<24-1, 1<<40-1) + 1}})
			return ix
		}(), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := checkpoint(t, tc.ix, tc.extra)
			got, extra, err := ReadCheckpoint(b)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(extra, tc.extra) {
				t.Fatalf("extra %q, want %q", extra, tc.extra)
			}
			checkInvariants(t, got)
			sameIndex(t, tc.ix, got)
			if b2 := checkpoint(t, got, tc.extra); !bytes.Equal(b, b2) {
				t.Fatal("re-encoding the loaded index gives other bytes")
			}
			// The loaded index keeps working.
			applyEvents(got, []ev{{"a", L(9, 9)}, {"new", L(9, 10)}})
			applyEvents(tc.ix, []ev{{"a", L(9, 9)}, {"new", L(9, 10)}})
			checkInvariants(t, got)
			sameIndex(t, tc.ix, got)
			got.TruncateAfter(got.Head() / 2)
			checkInvariants(t, got)
		})
	}
}

func TestCheckpointWide(t *testing.T) {
	defer func(old uint64) { wideAbove = old }(wideAbove)
	wideAbove = 5
	for _, n := range []int{5, 6, 300} {
		ix := randomIndex(3, n, 7, 100)
		b := checkpoint(t, ix, nil)
		if flags := binary.LittleEndian.Uint32(b[12:]); (flags&ckptFlagWide != 0) != (n > 5) {
			t.Fatalf("n=%d: flags %#x", n, flags)
		}
		got, _, err := ReadCheckpoint(b)
		if err != nil {
			t.Fatal(err)
		}
		sameIndex(t, ix, got)
	}
}

func isCheckpointErr(err error) bool {
	return errors.Is(err, ErrCorruptCheckpoint) || errors.Is(err, ErrCheckpointVersion)
}

func smallCheckpoint(t testing.TB) []byte {
	ix := New()
	applyEvents(ix, []ev{{"a", L(0, 0)}, {"bb", L(0, 9)}, {"a", L(1, 0)}, {"c", L(1, 70)}})
	return checkpoint(t, ix, []byte("xy"))
}

func TestCheckpointCorruption(t *testing.T) {
	b := smallCheckpoint(t)
	for i := range b {
		for _, mask := range []byte{0x01, 0x80, 0xff} {
			c := bytes.Clone(b)
			c[i] ^= mask
			if ix, _, err := ReadCheckpoint(c); err == nil || ix != nil || !isCheckpointErr(err) {
				t.Fatalf("byte %d ^ %#x: %v", i, mask, err)
			}
		}
	}
	for n := range len(b) {
		if _, _, err := ReadCheckpoint(b[:n]); !isCheckpointErr(err) {
			t.Fatalf("truncated to %d: %v", n, err)
		}
	}
	if _, _, err := ReadCheckpoint(append(bytes.Clone(b), 0)); !isCheckpointErr(err) {
		t.Fatalf("one byte too many: %v", err)
	}
	if _, _, err := ReadCheckpoint(nil); !isCheckpointErr(err) {
		t.Fatalf("nil: %v", err)
	}
}

// fixSum rewrites a checkpoint's checksum, so decoding goes past it.
func fixSum(b []byte) []byte {
	if len(b) >= ckptHeaderSize+ckptSumSize {
		n := len(b) - ckptSumSize
		binary.LittleEndian.PutUint64(b[n:], xxhash.Sum64(b[:n]))
	}
	return b
}

// TestCheckpointInvariants corrupts checkpoints behind a valid checksum:
// every structural check must hold on its own.
func TestCheckpointInvariants(t *testing.T) {
	// "a": 1, 3   "bb": 2   "c": 4; runs (1, hi 0) (3, hi 1<<40); extra "xy".
	const (
		runsOff    = ckptHeaderSize
		locsOff    = runsOff + 2*ckptRunSize
		streamsOff = locsOff + 4*4
		aOff       = streamsOff           // "a": hdr, id, 2 positions
		bbOff      = aOff + 28 + 1 + 2*4  // "bb": hdr, id, 1 position
		cOff       = bbOff + 28 + 2 + 1*4 // "c"
		extraOff   = cOff + 28 + 1 + 1*4  //
		posA1      = aOff + 28 + 1        // first position of "a"
		le32, le64 = 4, 8                 //
	)
	put32 := func(off int, v uint32) func([]byte) {
		return func(b []byte) { binary.LittleEndian.PutUint32(b[off:], v) }
	}
	put64 := func(off int, v uint64) func([]byte) {
		return func(b []byte) { binary.LittleEndian.PutUint64(b[off:], v) }
	}
	cases := []struct {
		name    string
		corrupt func(b []byte)
		version bool
	}{
		{"magic", func(b []byte) { b[0] = 'X' }, false},
		{"version", put32(8, 2), true},
		{"unknown flag", put32(12, 2), false},
		{"wide flag for small head", put32(12, ckptFlagWide), false},
		{"head smaller", put64(16, 3), false},
		{"head larger", put64(16, 5), false},
		{"streams count", put64(24, 2), false},
		{"runs count", put64(32, 1), false},
		{"idBytes", put64(40, 3), false},
		{"extraLen", put64(48, 1), false},
		{"reserved", put64(56, 1), false},
		{"huge head", func(b []byte) { put32(12, ckptFlagWide)(b); put64(16, 1<<62)(b) }, false},
		{"huge stream count", put64(24, 1<<62), false},
		{"huge run count", put64(32, 1<<61), false},
		{"first run not at 1", put64(runsOff, 2), false},
		{"runs out of order", put64(runsOff+ckptRunSize, 1), false},
		{"run past head", put64(runsOff+ckptRunSize, 5), false},
		{"run hi low bits", put64(runsOff+8, 7), false},
		{"runs with the same hi", put64(runsOff+ckptRunSize+8, 0), false},
		{"stream id order", func(b []byte) { b[bbOff+28] = 'A'; b[bbOff+29] = 'A' }, false},
		{"duplicate stream id", func(b []byte) { b[cOff+28] = 'a' }, false},
		{"zero positions", func(b []byte) { put64(cOff+4, 0)(b) }, false},
		{"count past end", func(b []byte) { put64(cOff+4, 1<<40)(b) }, false},
		{"id length past end", put32(cOff, 1<<31), false},
		{"position zero", put32(posA1, 0), false},
		{"position past head", put32(posA1+4, 5), false},
		{"positions not ascending", func(b []byte) { put32(posA1, 3)(b); put32(posA1+4, 1)(b) }, false},
		{"position in two streams", put32(posA1, 2), false},
		{"position in no stream (moved count)", func(b []byte) {
			put64(aOff+4, 1)(b) // "a" claims one position, so its second one is read as "bb"'s header
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := smallCheckpoint(t)
			if string(b[extraOff:extraOff+2]) != "xy" {
				t.Fatalf("test layout is off: extra at %d is %q", extraOff, b[extraOff:extraOff+2])
			}
			tc.corrupt(b)
			fixSum(b)
			ix, _, err := ReadCheckpoint(b)
			if ix != nil || err == nil {
				t.Fatal("accepted")
			}
			want := ErrCorruptCheckpoint
			if tc.version {
				want = ErrCheckpointVersion
			}
			t.Log(err)
			if !errors.Is(err, want) {
				t.Fatalf("error %v, want %v", err, want)
			}
		})
	}
}

func FuzzReadCheckpoint(f *testing.F) {
	f.Add(smallCheckpoint(f))
	f.Add(checkpoint(f, New(), nil))
	f.Add(checkpoint(f, randomIndex(5, 200, 13, 60), []byte("extra")))
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, in := range [][]byte{b, fixSum(bytes.Clone(b))} {
			ix, extra, err := ReadCheckpoint(in)
			if err != nil {
				if ix != nil || !isCheckpointErr(err) {
					t.Fatalf("error %v with index %v", err, ix != nil)
				}
				continue
			}
			// Accepted: it must be exactly what WriteCheckpoint writes for
			// the index it decoded to.
			checkInvariants(t, ix)
			if out := checkpoint(t, ix, extra); !bytes.Equal(out, in) {
				t.Fatal("accepted a checkpoint that does not re-encode to itself")
			}
		}
	})
}

// blockingWriter holds the first Write until release is closed.
type blockingWriter struct {
	started chan struct{}
	release chan struct{}
	buf     bytes.Buffer
}

func (w *blockingWriter) Write(p []byte) (int, error) {
	if w.buf.Len() == 0 {
		close(w.started)
		<-w.release
	}
	return w.buf.Write(p)
}

// TestCheckpointWhileWriting changes the index while a checkpoint is being
// encoded: the checkpoint must hold the state at its start.
func TestCheckpointWhileWriting(t *testing.T) {
	ix := randomIndex(7, 5000, 50, 800)
	want := checkpoint(t, ix, []byte("e"))
	before, _, err := ReadCheckpoint(want)
	if err != nil {
		t.Fatal(err)
	}
	w := &blockingWriter{started: make(chan struct{}), release: make(chan struct{})}
	done := make(chan error)
	go func() { done <- ix.WriteCheckpoint(w, []byte("e")) }()
	<-w.started
	// Append to every stream (in place would change the frozen view), add new
	// ones, truncate, append again.
	ascendAll(ix, "", "", 0) // readers are not blocked
	var b []ev
	for _, s := range ascendAll(ix, "", "", 0) {
		b = append(b, ev{s.ID, L(50, uint64(len(b)))})
	}
	applyEvents(ix, b, []ev{{"new", L(51, 0)}})
	ix.TruncateAfter(4000)
	applyEvents(ix, b)
	close(w.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(w.buf.Bytes(), want) {
		t.Fatal("the checkpoint changed while it was being written")
	}
	ix.mu.RLock()
	copies := ix.cowCopies
	ix.mu.RUnlock()
	if copies == 0 {
		t.Fatal("no copy-on-write happened")
	}
	checkInvariants(t, ix)
	got, _, err := ReadCheckpoint(w.buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	sameIndex(t, before, got)
	// After the checkpoint, changes are in place again.
	applyEvents(ix, b)
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	if ix.cowCopies != copies {
		t.Fatal("copy-on-write without a checkpoint running")
	}
}
