package segment

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eventd/eventd/segment/vfs"
)

// oneSegmentLog writes frames of 3 records (synced) into one segment on a
// Mem FS, without preallocation, and returns the FS and the segment path.
func oneSegmentLog(t *testing.T, frames int) (*vfs.Mem, string) {
	t.Helper()
	fs := vfs.NewMem()
	l := mustOpen(t, fs, "/log", Options{DisablePrealloc: true})
	writeFrames(t, l, frames, 3, true)
	mustClose(t, l)
	return fs, segPaths(t, fs, "/log")[0]
}

// TestTornTailEveryOffset cuts the last frame at every byte offset, at EOF
// and into zero-filled (preallocated) space: Open must cut it whole.
func TestTornTailEveryOffset(t *testing.T) {
	fs, path := oneSegmentLog(t, 4)
	orig := readFile(t, fs, path)
	offs := frameOffsets(t, orig)
	lastOff := offs[len(offs)-1]
	for _, zeroTail := range []bool{false, true} {
		for k := lastOff; k < int64(len(orig)); k++ {
			b := bytes.Clone(orig[:k])
			if zeroTail {
				b = append(b, make([]byte, 4096)...)
			}
			writeFile(t, fs, path, b)
			l := mustOpen(t, fs, "/log", Options{DisablePrealloc: true})
			checkLog(t, l, 9)
			if zeroTail {
				after := readFile(t, fs, path)
				if len(after) != len(b) || !allZero(after[lastOff:]) {
					t.Fatalf("cut at %d: the torn bytes were not zeroed", k)
				}
			}
			// The log takes writes again where the torn frame was.
			writeFrames(t, l, 1, 2, true)
			checkLog(t, l, 11)
			mustClose(t, l)
		}
	}
}

func TestZeroedTail(t *testing.T) {
	fs, path := oneSegmentLog(t, 4)
	b := readFile(t, fs, path)
	offs := frameOffsets(t, b)
	clear(b[offs[3]:])
	writeFile(t, fs, path, b)
	l := mustOpen(t, fs, "/log", Options{DisablePrealloc: true})
	checkLog(t, l, 9)
	mustClose(t, l)
}

func TestGarbageAfterGoodFrame(t *testing.T) {
	fs, path := oneSegmentLog(t, 3)
	b := readFile(t, fs, path)
	end := len(b)
	garbage := bytes.Repeat([]byte("not a frame, just junk "), 40)
	writeFile(t, fs, path, append(b, garbage...))
	rep, err := Verify("/log", Options{FS: fs})
	if err != nil || !rep.OK() || rep.TornTail != int64(len(garbage)) {
		t.Fatalf("Verify: %+v %v", rep, err)
	}
	l := mustOpen(t, fs, "/log", Options{DisablePrealloc: true})
	checkLog(t, l, 9)
	mustClose(t, l)
	if after := readFile(t, fs, path); !allZero(after[end:]) {
		t.Fatal("garbage was not zeroed")
	}
}

// TestMidLogCorruption: damage before the last frame of the last segment
// is corruption with file and offset, never a cut.
func TestMidLogCorruption(t *testing.T) {
	tests := map[string]func(b []byte, frame int64){
		"flipped record bit":  func(b []byte, off int64) { b[off+frameHeaderSize+20] ^= 1 },
		"flipped length bit":  func(b []byte, off int64) { b[off] ^= 0x40 },
		"flipped checksum":    func(b []byte, off int64) { b[off+25] ^= 1 },
		"zeroed frame header": func(b []byte, off int64) { clear(b[off : off+frameHeaderSize]) },
		"intact frame, wrong position": func(b []byte, off int64) {
			binary.LittleEndian.PutUint64(b[off+8:], 999)
			h, _ := parseFrameHeader(b[off:])
			binary.LittleEndian.PutUint64(b[off+24:], frameChecksum(b[off:off+24], b[off+frameHeaderSize:off+h.size()]))
		},
		"zeroed whole frame": func(b []byte, off int64) {
			h, _ := parseFrameHeader(b[off:])
			clear(b[off : off+h.size()])
		},
	}
	for name, corrupt := range tests {
		t.Run(name, func(t *testing.T) {
			fs, path := oneSegmentLog(t, 5)
			b := readFile(t, fs, path)
			off := frameOffsets(t, b)[2]
			corrupt(b, off)
			writeFile(t, fs, path, b)
			_, err := Open("/log", Options{FS: fs, Logger: quiet, DisablePrealloc: true})
			ce := asCorruption(t, err)
			if ce.File != path || ce.Offset != off {
				t.Fatalf("corruption at %s:%d, want %s:%d", ce.File, ce.Offset, path, off)
			}
			rep, err := Verify("/log", Options{FS: fs})
			if err != nil || len(rep.Problems) != 1 || rep.Problems[0].Offset != off {
				t.Fatalf("Verify: %+v %v", rep, err)
			}
		})
	}
}

// rolledLog writes enough frames to fill several 8 KiB segments.
func rolledLog(t *testing.T, fs vfs.FS, dir string, segs int) (last uint64, locs map[uint64]Loc) {
	t.Helper()
	// Prealloc off: every segment rolls full (no early move into a prepared one).
	l := mustOpen(t, fs, dir, Options{SegmentSize: 8 << 10, DisablePrealloc: true})
	locs = map[uint64]Loc{}
	for len(l.Segments()) < segs {
		for p, loc := range writeFrames(t, l, 1, 4, true) {
			locs[p] = loc
		}
	}
	last = l.LastPosition()
	mustClose(t, l)
	return last, locs
}

// TestSealedCorruption: a flipped bit in a sealed segment is found by Scrub,
// by ReadRecord of the damaged record, by VerifyFull and by Verify.
func TestSealedCorruption(t *testing.T) {
	fs := vfs.NewMem()
	last, locs := rolledLog(t, fs, "/log", 4)
	paths := segPaths(t, fs, "/log")
	b := readFile(t, fs, paths[1])
	frames := frameOffsets(t, b)
	damaged := frames[1] + frameHeaderSize + 30 // inside the first record of frame 1
	b[damaged] ^= 0x20
	writeFile(t, fs, paths[1], b)

	// A plain Open does not read sealed segments: start-up stays fast.
	l := mustOpen(t, fs, "/log", Options{SegmentSize: 8 << 10})
	ce := asCorruption(t, l.Scrub(context.Background()))
	if ce.File != paths[1] || ce.Offset != frames[1] {
		t.Fatalf("Scrub: %v, want %s:%d", ce, paths[1], frames[1])
	}
	var bad Loc
	for _, loc := range locs {
		if LocSegment(loc) == 1 && LocOffset(loc) == frames[1]+frameHeaderSize {
			bad = loc
		}
	}
	if _, _, err := l.ReadRecord(bad, nil); asCorruption(t, err).Offset != frames[1]+frameHeaderSize {
		t.Fatalf("ReadRecord: %v", err)
	}
	if err := l.Replay(0, func(*Record, Loc) error { return nil }); err == nil {
		t.Fatal("Replay read through the damage")
	}
	mustClose(t, l)

	_, err := Open("/log", Options{FS: fs, Logger: quiet, VerifyFull: true})
	if ce := asCorruption(t, err); ce.File != paths[1] || ce.Offset != frames[1] {
		t.Fatalf("VerifyFull: %v", err)
	}
	rep, err := Verify("/log", Options{FS: fs})
	if err != nil || len(rep.Problems) != 1 || rep.Problems[0].File != paths[1] || rep.LastPosition != last {
		t.Fatalf("Verify: %+v %v", rep, err)
	}
}

// TestFooterMismatch: a footer whose file hash is wrong (but self-consistent)
// is caught by Scrub and VerifyFull.
func TestFooterMismatch(t *testing.T) {
	fs := vfs.NewMem()
	rolledLog(t, fs, "/log", 3)
	path := segPaths(t, fs, "/log")[0]
	b := readFile(t, fs, path)
	ft, err := decodeFooter(b[len(b)-footerSize:])
	if err != nil {
		t.Fatal(err)
	}
	copy(b[len(b)-footerSize:], appendFooter(nil, ft.DataEnd, ft.FileHash+1))
	writeFile(t, fs, path, b)
	l := mustOpen(t, fs, "/log", Options{})
	if ce := asCorruption(t, l.Scrub(context.Background())); ce.Offset != ft.DataEnd {
		t.Fatalf("Scrub: %v", ce)
	}
	mustClose(t, l)
	if _, err := Open("/log", Options{FS: fs, Logger: quiet, VerifyFull: true}); asCorruption(t, err).File != path {
		t.Fatalf("VerifyFull: %v", err)
	}
	// Repair rewrites the footer: every frame is good, nothing is cut.
	l = mustOpen(t, fs, "/log", Options{VerifyFull: true, Repair: true})
	if err := l.Scrub(context.Background()); err != nil {
		t.Fatal(err)
	}
	mustClose(t, l)
}

func TestRepair(t *testing.T) {
	fs := vfs.NewMem()
	rolledLog(t, fs, "/log", 5)
	paths := segPaths(t, fs, "/log")
	orig := readFile(t, fs, paths[2])
	b := bytes.Clone(orig)
	frames := frameOffsets(t, b)
	b[frames[2]+frameHeaderSize+40] ^= 1
	writeFile(t, fs, paths[2], b)
	// The last good position: the end of frame 1 of segment 2.
	h, _ := parseFrameHeader(b[frames[1]:])
	good := h.lastPos()

	l := mustOpen(t, fs, "/log", Options{VerifyFull: true, Repair: true, SegmentSize: 8 << 10})
	checkLog(t, l, good)
	if n := len(l.Segments()); n != 3 {
		t.Fatalf("%d segments after repair, want 3", n)
	}
	writeFrames(t, l, 5, 4, true)
	checkLog(t, l, good+20)
	mustClose(t, l)

	if got := readFile(t, fs, paths[2]+".broken"); !bytes.Equal(got, b) {
		t.Fatal("the .broken copy differs from the damaged segment")
	}
	for _, p := range paths[3:] {
		if _, err := fs.OpenFile(p+".broken", os.O_RDONLY, 0); err != nil {
			t.Fatalf("later segment not kept as .broken: %v", err)
		}
	}
	l = mustOpen(t, fs, "/log", Options{VerifyFull: true})
	checkLog(t, l, good+20)
	mustClose(t, l)
}

func TestRepairBadHeader(t *testing.T) {
	fs := vfs.NewMem()
	rolledLog(t, fs, "/log", 3)
	paths := segPaths(t, fs, "/log")
	b := readFile(t, fs, paths[1])
	b[3] ^= 1
	writeFile(t, fs, paths[1], b)
	if _, err := Open("/log", Options{FS: fs, Logger: quiet}); asCorruption(t, err).Offset != 0 {
		t.Fatalf("err = %v", err)
	}
	l := mustOpen(t, fs, "/log", Options{Repair: true})
	first, _ := parseSegName(filepath.Base(paths[1]))
	checkLog(t, l, first-1)
	writeFrames(t, l, 1, 1, true)
	checkLog(t, l, first)
	mustClose(t, l)
}

// TestSealOnOpen: a non-last segment without a footer (a crash before the
// background seal) is scanned and sealed at Open.
func TestSealOnOpen(t *testing.T) {
	for name, strip := range map[string]func(b []byte, end int64) []byte{
		"no footer":             func(b []byte, end int64) []byte { return b[:end] },
		"zero tail, no footer":  func(b []byte, end int64) []byte { return append(b[:end], make([]byte, 3000)...) },
		"footer not truncated":  func(b []byte, end int64) []byte { return append(b, make([]byte, 500)...) },
		"half-written footer":   func(b []byte, end int64) []byte { clear(b[end+16:]); return b },
		"footer, tail not zero": func(b []byte, end int64) []byte { return append(b, 1, 2, 3) },
	} {
		t.Run(name, func(t *testing.T) {
			fs := vfs.NewMem()
			last, _ := rolledLog(t, fs, "/log", 3)
			path := segPaths(t, fs, "/log")[0]
			b := readFile(t, fs, path)
			want := bytes.Clone(b)
			end := int64(len(b)) - footerSize
			writeFile(t, fs, path, strip(b, end))
			l := mustOpen(t, fs, "/log", Options{})
			if !l.Segments()[0].Sealed {
				t.Fatal("segment 0 not sealed")
			}
			checkLog(t, l, last)
			if err := l.Scrub(context.Background()); err != nil {
				t.Fatal(err)
			}
			mustClose(t, l)
			if got := readFile(t, fs, path); !bytes.Equal(got, want) {
				t.Fatalf("resealed file differs (len %d, want %d)", len(got), len(want))
			}
		})
	}
}

// TestRollManySegments rolls across many 64 KiB segments on the real file
// system with preallocation, then checks everything.
func TestRollManySegments(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: 64 << 10}
	l := mustOpen(t, vfs.OS(), dir, opts)
	writeFrames(t, l, 600, 10, false)
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	last := l.LastPosition()
	segs := l.Segments()
	if len(segs) < 10 {
		t.Fatalf("only %d segments", len(segs))
	}
	checkLog(t, l, last)
	mustClose(t, l)
	for _, s := range segs[:len(segs)-1] {
		fi, err := os.Stat(s.Path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() > opts.SegmentSize {
			t.Fatalf("%s is %d bytes, over the segment size", s.Path, fi.Size())
		}
	}
	l = mustOpen(t, vfs.OS(), dir, Options{SegmentSize: 64 << 10, VerifyFull: true})
	for _, s := range l.Segments()[:len(segs)-1] {
		if !s.Sealed {
			t.Fatalf("%s not sealed", s.Path)
		}
	}
	checkLog(t, l, last)
	if err := l.Scrub(context.Background()); err != nil {
		t.Fatal(err)
	}
	mustClose(t, l)
	rep, err := Verify(dir, Options{})
	if err != nil || !rep.OK() || rep.Records != int(last) || rep.Segments != len(segs) {
		t.Fatalf("Verify: %+v %v", rep, err)
	}
}

func TestOversizeFrame(t *testing.T) {
	fs := vfs.NewMem()
	l := mustOpen(t, fs, "/log", Options{SegmentSize: minSegmentSize, DisablePrealloc: true})
	writeFrames(t, l, 2, 2, true)
	var b Batch
	b.Reset(5)
	big := Record{Position: 5, StreamID: "big", Data: make([]byte, 3*minSegmentSize)}
	b.Add(&big)
	seg, off, err := l.Write(&b)
	if err != nil || seg != 1 || off != segHeaderSize {
		t.Fatalf("big frame at %d:%d, %v; want its own segment", seg, off, err)
	}
	b.Reset(6)
	small := testRecord(6)
	b.Add(&small)
	if seg, _, err := l.Write(&b); err != nil || seg != 2 {
		t.Fatalf("next frame in segment %d (%v), want 2", seg, err)
	}
	mustClose(t, l)
	l = mustOpen(t, fs, "/log", Options{SegmentSize: minSegmentSize, VerifyFull: true})
	if l.LastPosition() != 6 {
		t.Fatal(l.LastPosition())
	}
	mustClose(t, l)
}

// gateFS holds every write to prealloc.tmp until release is closed.
type gateFS struct {
	vfs.FS
	release chan struct{}
}

type gateFile struct {
	vfs.File
	release chan struct{}
}

func (g *gateFS) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	f, err := g.FS.OpenFile(name, flag, perm)
	if err != nil || !strings.HasSuffix(name, preallocName) {
		return f, err
	}
	return &gateFile{File: f, release: g.release}, nil
}

func (f *gateFile) WriteAt(p []byte, off int64) (int, error) {
	<-f.release
	return f.File.WriteAt(p, off)
}

// TestPreallocAndFallback: while the next segment is still being
// preallocated, a roll creates its segment synchronously without waiting;
// once it is ready, the next roll uses it (a file already at full size).
func TestPreallocAndFallback(t *testing.T) {
	mem := vfs.NewMem()
	g := &gateFS{FS: mem, release: make(chan struct{})}
	const size = 16 << 10
	l := mustOpen(t, g, "/log", Options{SegmentSize: size})
	for len(l.Segments()) < 2 {
		writeFrames(t, l, 1, 4, true)
	}
	second := l.Segments()[1].Path
	if f := readFile(t, mem, second); len(f) >= size {
		t.Fatalf("fallback segment is %d bytes: it should not be preallocated", len(f))
	}
	close(g.release)
	// Wait for the prepared file: the preallocator hands it over when done.
	for !l.pre.busy.Load() || len(l.pre.readyCh) == 0 {
		if !l.pre.busy.Load() {
			t.Fatal("preallocator gave up")
		}
		time.Sleep(time.Millisecond) // the zero-fill of 16 KiB is quick
	}
	for len(l.Segments()) < 3 {
		writeFrames(t, l, 1, 4, true)
	}
	third := l.Segments()[2].Path
	if f := readFile(t, mem, third); len(f) != size {
		t.Fatalf("preallocated segment is %d bytes, want %d", len(f), size)
	}
	last := l.LastPosition()
	checkLog(t, l, last)
	mustClose(t, l)
	// The zero-filled tail reads as the end of the log.
	l = mustOpen(t, mem, "/log", Options{SegmentSize: size, VerifyFull: true})
	checkLog(t, l, last)
	writeFrames(t, l, 3, 4, true)
	checkLog(t, l, last+12)
	mustClose(t, l)
}

// TestCrashDropsUnsynced: a power loss loses unsynced frames, and the log
// recovers to the last synced frame, across rolls too.
func TestCrashDropsUnsynced(t *testing.T) {
	for _, prealloc := range []bool{false, true} {
		fs := vfs.NewMem()
		opts := Options{SegmentSize: 8 << 10, DisablePrealloc: !prealloc}
		l := mustOpen(t, fs, "/log", opts)
		for i := 0; i < 60; i++ {
			writeFrames(t, l, 1, 3, i%3 == 0)
			synced := l.LastPosition()
			if i%3 != 0 {
				synced -= 3 * uint64(i%3)
			}
			crashed := fs.Crash()
			r := mustOpen(t, crashed, "/log", Options{SegmentSize: 8 << 10, DisablePrealloc: true, VerifyFull: true})
			got := r.LastPosition()
			if got < synced || got > l.LastPosition() {
				t.Fatalf("frame %d: after crash LastPosition = %d, synced %d, written %d", i, got, synced, l.LastPosition())
			}
			checkLog(t, r, got)
			mustClose(t, r)
		}
		mustClose(t, l)
	}
}

// TestFaultSweep fails the n-th write (then the n-th sync) for n = 0, 1, …
// until a run succeeds. The log must report the error, never panic, and
// after a crash recover at least every acknowledged (written and synced)
// position.
func TestFaultSweep(t *testing.T) {
	for _, kind := range []string{"write", "sync"} {
		t.Run(kind, func(t *testing.T) {
			for n := int64(0); ; n++ {
				mem := vfs.NewMem()
				fault := vfs.NewFault(mem)
				if kind == "write" {
					fault.FailWriteAt(n)
				} else {
					fault.FailSyncAt(n)
				}
				acked, failed := faultRun(t, fault)
				for _, fs := range []*vfs.Mem{mem, mem.Crash()} {
					l := mustOpen(t, fs, "/log", Options{SegmentSize: 4 << 10, DisablePrealloc: true})
					if got := l.LastPosition(); got < acked {
						t.Fatalf("n=%d: recovered to %d, acknowledged %d", n, got, acked)
					}
					checkLog(t, l, l.LastPosition())
					mustClose(t, l)
				}
				if !failed {
					if n < 10 {
						t.Fatalf("the sweep ended after %d calls", n)
					}
					return
				}
			}
		})
	}
}

// faultRun opens a log on fs and writes synced frames until an error; it
// returns the last acknowledged position and whether anything failed.
func faultRun(t *testing.T, fs vfs.FS) (acked uint64, failed bool) {
	l, err := Open("/log", Options{FS: fs, Logger: quiet, SegmentSize: 4 << 10, DisablePrealloc: true})
	if err != nil {
		if !errors.Is(err, vfs.ErrInjected) {
			t.Fatalf("Open: %v", err)
		}
		return 0, true
	}
	defer l.Close()
	var b Batch
	for i := 0; i < 40; i++ {
		first := l.LastPosition() + 1
		b.Reset(first)
		for j := range 3 {
			r := testRecord(first + uint64(j))
			b.Add(&r)
		}
		if _, _, err := l.Write(&b); err != nil {
			if !errors.Is(err, vfs.ErrInjected) {
				t.Fatalf("Write: %v", err)
			}
			if errors.Is(err, ErrNotWritten) {
				// A roll that could not create its segment: nothing changed
				// and nothing is sticky.
				if l.LastPosition() != first-1 || l.Sync() != nil {
					t.Fatalf("after %v: LastPosition %d (want %d), Sync %v", err, l.LastPosition(), first-1, l.Sync())
				}
				return acked, true
			}
			// Sticky: the log refuses more.
			if _, _, err2 := l.Write(&b); err2 == nil || l.Sync() == nil {
				t.Fatal("log took writes after a failure")
			}
			return acked, true
		}
		if err := l.Sync(); err != nil {
			if !errors.Is(err, vfs.ErrInjected) {
				t.Fatalf("Sync: %v", err)
			}
			return acked, true
		}
		acked = l.LastPosition()
	}
	if err := l.Close(); err != nil {
		return acked, true
	}
	return acked, false
}

// TestIntactLastFrameWrongPosition: a last frame that matches its checksum
// was written whole, so a wrong position in it is corruption, not a torn
// tail to cut.
func TestIntactLastFrameWrongPosition(t *testing.T) {
	fs, path := oneSegmentLog(t, 3)
	b := readFile(t, fs, path)
	off := frameOffsets(t, b)[2]
	binary.LittleEndian.PutUint64(b[off+8:], 100)
	binary.LittleEndian.PutUint64(b[off+24:], frameChecksum(b[off:off+24], b[off+frameHeaderSize:]))
	writeFile(t, fs, path, b)
	_, err := Open("/log", Options{FS: fs, Logger: quiet, DisablePrealloc: true})
	if ce := asCorruption(t, err); ce.Offset != off {
		t.Fatalf("corruption at %d, want %d", ce.Offset, off)
	}
}

// TestRepairLastSegment: damage in the middle of the active segment, with
// Repair: a .broken copy, the log cut before the damage, appends go on.
func TestRepairLastSegment(t *testing.T) {
	fs, path := oneSegmentLog(t, 5)
	b := readFile(t, fs, path)
	off := frameOffsets(t, b)[2]
	b[off+frameHeaderSize+3] ^= 4
	writeFile(t, fs, path, b)
	l := mustOpen(t, fs, "/log", Options{Repair: true, DisablePrealloc: true})
	checkLog(t, l, 6)
	writeFrames(t, l, 2, 3, true)
	checkLog(t, l, 12)
	mustClose(t, l)
	if got := readFile(t, fs, path+".broken"); !bytes.Equal(got, b) {
		t.Fatal("the .broken copy differs from the damaged segment")
	}
	rep, err := Verify("/log", Options{FS: fs})
	if err != nil || !rep.OK() || rep.LastPosition != 12 {
		t.Fatalf("Verify: %+v %v", rep, err)
	}
}

// A new log starts in a segment that was not zero-filled; as soon as the
// preallocator has a filled one ready, the writer moves into it: in place
// of the active segment while it is empty, by rolling early once it holds
// frames. Either way every record stays readable and the log reopens.
func TestMoveToFilledSegment(t *testing.T) {
	for _, withFrames := range []bool{false, true} {
		mem := vfs.NewMem()
		g := &gateFS{FS: mem, release: make(chan struct{})}
		const size = 64 << 10
		l := mustOpen(t, g, "/log", Options{SegmentSize: size})
		if l.active.filled {
			t.Fatal("a new log's first segment cannot be filled")
		}
		var locs map[uint64]Loc
		if withFrames {
			locs = writeFrames(t, l, 2, 3, true)
		}
		close(g.release)
		deadline := time.Now().Add(10 * time.Second)
		for len(l.pre.readyCh) == 0 {
			if time.Now().After(deadline) {
				t.Fatal("no prepared file")
			}
			time.Sleep(time.Millisecond)
		}
		for k, v := range writeFrames(t, l, 1, 2, true) {
			if locs == nil {
				locs = map[uint64]Loc{}
			}
			locs[k] = v
		}
		segs := l.Segments()
		want := 1
		if withFrames {
			want = 2
		}
		if len(segs) != want || !l.active.filled {
			t.Fatalf("frames %v: %d segments (want %d), active filled %v", withFrames, len(segs), want, l.active.filled)
		}
		if got := len(readFile(t, mem, segs[len(segs)-1].Path)); got != size {
			t.Fatalf("active segment is %d bytes, want the filled %d", got, size)
		}
		for pos, loc := range locs {
			if r, _, err := l.ReadRecord(loc, nil); err != nil || r.Position != pos {
				t.Fatalf("record %d: %v", pos, err)
			}
		}
		last := l.LastPosition()
		mustClose(t, l)
		l = mustOpen(t, mem, "/log", Options{SegmentSize: size, VerifyFull: true})
		if l.LastPosition() != last || !l.active.filled {
			t.Fatalf("after reopening: last %d (want %d), filled %v", l.LastPosition(), last, l.active.filled)
		}
		mustClose(t, l)
	}
}
