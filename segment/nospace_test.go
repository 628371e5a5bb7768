package segment

import (
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eventd/eventd/segment/vfs"
)

// nextBatch fills b with perFrame test records after the log's last
// position.
func nextBatch(l *Log, b *Batch, perFrame int) {
	first := l.LastPosition() + 1
	b.Reset(first)
	for j := range perFrame {
		r := testRecord(first + uint64(j))
		b.Add(&r)
	}
}

// A frame that finds the disk full is taken back: the error wraps
// ErrNotWritten and ENOSPC, nothing is sticky, LastPosition stays, the
// bytes it wrote in part are gone, Probe says no room until space is freed
// and then yes (leaving the file as it was), and the same batch is written
// at the same positions. A reopen, and a power loss, see exactly the
// frames written.
func TestWriteNoSpaceIsTakenBack(t *testing.T) {
	mem := vfs.NewMem()
	mem.SetCapacity(64 << 10)
	l := mustOpen(t, mem, "/log", Options{DisablePrealloc: true})
	var b Batch
	var err error
	for err == nil {
		nextBatch(l, &b, 5)
		if _, _, err = l.Write(&b); err == nil {
			err = l.Sync()
		}
	}
	if !errors.Is(err, ErrNotWritten) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Write on a full disk: %v, want ErrNotWritten wrapping ENOSPC", err)
	}
	last := l.LastPosition()
	if b.firstPos != last+1 {
		t.Fatalf("LastPosition moved to %d on a failed write", last)
	}
	path := l.Segments()[0].Path
	if f := readFile(t, mem, path); int64(len(f)) != l.writeOff {
		t.Fatalf("after the failed write the file is %d bytes, frames end at %d: the partial frame is still there", len(f), l.writeOff)
	}
	if err := l.Sync(); err != nil {
		t.Fatalf("Sync after a write that was taken back: %v (not sticky)", err)
	}
	if err := l.Probe(); !errors.Is(err, ErrNotWritten) || !NoSpace(err) {
		t.Fatalf("Probe on a full disk: %v", err)
	}
	mem.SetCapacity(1 << 20)
	size := len(readFile(t, mem, path))
	if err := l.Probe(); err != nil {
		t.Fatalf("Probe with room: %v", err)
	}
	if got := len(readFile(t, mem, path)); got != size {
		t.Fatalf("Probe left the file at %d bytes, it was %d", got, size)
	}
	if _, _, err := l.Write(&b); err != nil {
		t.Fatalf("the same batch after space was freed: %v", err)
	}
	if err := l.Sync(); err != nil {
		t.Fatal(err)
	}
	writeFrames(t, l, 3, 5, true)
	want := l.LastPosition()
	checkLog(t, l, want)
	mustClose(t, l)
	for _, fs := range []*vfs.Mem{mem, mem.Crash()} {
		l := mustOpen(t, fs, "/log", Options{DisablePrealloc: true, VerifyFull: true})
		checkLog(t, l, want)
		mustClose(t, l)
	}
	if rep, err := Verify("/log", Options{FS: mem}); err != nil || !rep.OK() || rep.TornTail != 0 {
		t.Fatalf("Verify: %+v %v", rep, err)
	}
}

// TestNoSpaceSweep makes WriteAt n (and every later one) fail with ENOSPC,
// for n = 0, 1, … until a run never reaches it. Each failed Write must be
// taken back (ErrNotWritten, never sticky); once space is back the same
// batch is written again. In the end the log holds exactly every batch, in
// order, gap-free, and reopens (and survives a power loss) the same. With
// preallocation, the failing write may be the zero-fill, the header of a
// new segment, a frame in a zero-filled segment (zeroing fails too: the
// segment is cut instead) or the seal.
func TestNoSpaceSweep(t *testing.T) {
	for _, prealloc := range []bool{false, true} {
		name := map[bool]string{false: "plain", true: "prealloc"}[prealloc]
		t.Run(name, func(t *testing.T) {
			opts := Options{SegmentSize: 4 << 10, DisablePrealloc: !prealloc, preallocRetry: time.Millisecond}
			for n := int64(0); n < 2000; n++ {
				mem := vfs.NewMem()
				fault := vfs.NewFault(mem)
				fault.FailWriteWith(n, syscall.ENOSPC)
				l, err := Open("/log", Options{FS: fault, Logger: quiet, SegmentSize: opts.SegmentSize, DisablePrealloc: opts.DisablePrealloc, preallocRetry: opts.preallocRetry})
				if err != nil {
					if !NoSpace(err) {
						t.Fatalf("n=%d: Open: %v", n, err)
					}
					continue
				}
				failed := false
				var b Batch
				for i := 0; i < 30; i++ {
					nextBatch(l, &b, 3)
					for {
						_, _, err := l.Write(&b)
						if err == nil {
							break
						}
						if !errors.Is(err, ErrNotWritten) || !NoSpace(err) {
							t.Fatalf("n=%d: Write: %v, want it taken back", n, err)
						}
						failed = true
						if err := l.Probe(); !errors.Is(err, ErrNotWritten) {
							t.Fatalf("n=%d: Probe on a full disk: %v", n, err)
						}
						fault.FailWriteWith(-1, nil)
						if err := l.Probe(); err != nil {
							t.Fatalf("n=%d: Probe with room: %v", n, err)
						}
					}
					if err := l.Sync(); err != nil {
						t.Fatalf("n=%d: Sync: %v", n, err)
					}
				}
				checkLog(t, l, 90)
				if err := l.Close(); err != nil {
					t.Fatalf("n=%d: Close: %v", n, err)
				}
				for _, fs := range []*vfs.Mem{mem, mem.Crash()} {
					l := mustOpen(t, fs, "/log", Options{SegmentSize: opts.SegmentSize, DisablePrealloc: true, VerifyFull: true})
					checkLog(t, l, 90)
					mustClose(t, l)
				}
				if !failed && fault.Writes() < n {
					t.Logf("swept %d writes", n)
					return // the fault was never reached: the sweep is complete
				}
			}
			t.Fatal("the sweep did not finish")
		})
	}
}

// A segment that cannot be created at a roll (EMFILE) fails only that
// Write: nothing is sticky, no roll.tmp is left, and the next Write rolls.
func TestRollOpenFailureIsNotSticky(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOSPC} {
		mem := vfs.NewMem()
		fault := vfs.NewFault(mem)
		l := mustOpen(t, fault, "/log", Options{SegmentSize: 4 << 10, DisablePrealloc: true})
		fault.FailOpenAt(fault.Opens(), errno)
		var b Batch
		var err error
		for err == nil {
			nextBatch(l, &b, 3)
			_, _, err = l.Write(&b)
		}
		if !errors.Is(err, ErrNotWritten) || !errors.Is(err, errno) || !strings.Contains(err.Error(), rollName) {
			t.Fatalf("%v: Write at a roll: %v", errno, err)
		}
		if len(l.Segments()) != 1 || l.LastPosition() != b.firstPos-1 || hasFile(mem, "/log/"+rollName) {
			t.Fatalf("%v: the failed roll changed the log: %d segments, last %d", errno, len(l.Segments()), l.LastPosition())
		}
		if err := l.Sync(); err != nil {
			t.Fatalf("%v: Sync after a failed roll: %v (not sticky)", errno, err)
		}
		fault.FailOpenAt(-1, nil)
		if _, _, err := l.Write(&b); err != nil {
			t.Fatalf("%v: the next roll: %v", errno, err)
		}
		writeFrames(t, l, 2, 3, true)
		last := l.LastPosition()
		checkLog(t, l, last)
		mustClose(t, l)
		l = mustOpen(t, mem, "/log", Options{SegmentSize: 4 << 10, VerifyFull: true, DisablePrealloc: true})
		checkLog(t, l, last)
		mustClose(t, l)
	}
}

// Errors name the file as the log knows it: a segment made through
// roll.tmp (or prealloc.tmp) keeps that name in the os package's errors.
func TestErrorsNameTheSegment(t *testing.T) {
	for _, prealloc := range []bool{false, true} {
		for _, op := range []string{"write", "sync"} {
			mem := vfs.NewMem()
			fault := vfs.NewFault(mem)
			l := mustOpen(t, fault, "/log", Options{SegmentSize: 4 << 10, DisablePrealloc: !prealloc})
			// Three segments (made through roll.tmp or prealloc.tmp), the
			// active one zero-filled when preallocating.
			waitFor(t, "three segments", func() bool {
				writeFrames(t, l, 1, 3, true)
				return len(l.Segments()) >= 3 && l.Filled() == prealloc
			})
			if op == "write" {
				fault.FailWriteWith(fault.Writes(), syscall.EIO)
			} else {
				fault.FailSyncWith(fault.Syncs(), syscall.EIO)
			}
			var b Batch
			nextBatch(l, &b, 1)
			_, _, err := l.Write(&b)
			if err == nil {
				err = l.Sync()
			}
			active := l.Segments()[len(l.Segments())-1].Path
			if err == nil || !errors.Is(err, syscall.EIO) || !strings.Contains(err.Error(), active) || strings.Contains(err.Error(), ".tmp") {
				t.Fatalf("prealloc %v, %s error: %v; want EIO naming %s", prealloc, op, err, active)
			}
			// EIO is no lack of space: sticky.
			if _, _, err2 := l.Write(&b); err2 == nil || errors.Is(err2, ErrNotWritten) || l.Probe() == nil {
				t.Fatalf("prealloc %v, %s error: not sticky (%v)", prealloc, op, err2)
			}
			l.Close()
		}
	}
}

// A failed fsync stays sticky, and so does a probe whose fsync fails: the
// page cache of the active segment cannot be trusted after it.
func TestProbeSyncFailureIsSticky(t *testing.T) {
	mem := vfs.NewMem()
	mem.SetCapacity(32 << 10)
	fault := vfs.NewFault(mem)
	l := mustOpen(t, fault, "/log", Options{DisablePrealloc: true})
	defer l.Close()
	var b Batch
	var err error
	for err == nil {
		nextBatch(l, &b, 5)
		_, _, err = l.Write(&b)
	}
	if !errors.Is(err, ErrNotWritten) {
		t.Fatal(err)
	}
	mem.SetCapacity(1 << 20)
	fault.FailSyncWith(fault.Syncs(), syscall.EIO)
	if err := l.Probe(); err == nil || errors.Is(err, ErrNotWritten) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("Probe with a failing fsync: %v, want the sticky EIO", err)
	}
	fault.FailSyncWith(-1, nil)
	if _, _, err := l.Write(&b); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Write after the failed probe: %v, want the sticky EIO", err)
	}
}
