package segment

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventd/eventd/segment/vfs"
)

// logCounter is a slog.Handler that counts records per level and keeps
// their messages.
type logCounter struct {
	mu   sync.Mutex
	msgs map[slog.Level][]string
}

func newLogCounter() (*logCounter, *slog.Logger) {
	c := &logCounter{msgs: map[slog.Level][]string{}}
	return c, slog.New(c)
}

func (c *logCounter) Enabled(context.Context, slog.Level) bool { return true }
func (c *logCounter) WithAttrs([]slog.Attr) slog.Handler       { return c }
func (c *logCounter) WithGroup(string) slog.Handler            { return c }
func (c *logCounter) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs[r.Level] = append(c.msgs[r.Level], r.Message)
	return nil
}

// count returns how many records at level lv had a message containing sub.
func (c *logCounter) count(lv slog.Level, sub string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, m := range c.msgs[lv] {
		if strings.Contains(m, sub) {
			n++
		}
	}
	return n
}

// noSpaceInfo hides the Space of the FS it wraps (a file system that
// cannot tell its free space), and counts the OpenFile calls for
// prealloc.tmp.
type noSpaceInfo struct {
	vfs.FS
	preallocOpens atomic.Int64
}

func (n *noSpaceInfo) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	if filepath.Base(name) == preallocName {
		n.preallocOpens.Add(1)
	}
	return n.FS.OpenFile(name, flag, perm)
}

// gateSpace is a gateFS that reports the free space of a Fault.
type gateSpace struct {
	*gateFS
	fault *vfs.Fault
}

func (g gateSpace) Space(dir string) (vfs.Space, error) { return g.fault.Space(dir) }

func hasFile(fs *vfs.Mem, path string) bool { return slices.Contains(fs.Files(), path) }

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// The case: a file system smaller than a segment (32 MiB with
// --segment-size 64MiB). Preallocation must never take the space the log
// needs: the log fills the disk (not half of it), no prealloc.tmp is left,
// and after a restart — with a stale prealloc.tmp from the old version —
// the file is removed and not zero-filled again, so appends go on.
func TestPreallocKeepsRoomForTheLog(t *testing.T) {
	const capacity = 512 << 10
	mem := vfs.NewMem()
	mem.SetCapacity(capacity)
	opts := Options{SegmentSize: 1 << 20}
	l := mustOpen(t, mem, "/log", opts)
	var err error
	var b Batch
	for err == nil {
		first := l.LastPosition() + 1
		b.Reset(first)
		for j := range 3 {
			r := testRecord(first + uint64(j))
			b.Add(&r)
		}
		if _, _, err = l.Write(&b); err == nil {
			err = l.Sync()
		}
	}
	if hasFile(mem, "/log/"+preallocName) {
		t.Errorf("prealloc.tmp holds %d bytes while the log has no room", len(readFile(t, mem, "/log/"+preallocName)))
	}
	if used := l.Segments()[0].Size; used < capacity*9/10 {
		t.Fatalf("the log got only %d of %d bytes before ENOSPC", used, capacity)
	}
	if !errors.Is(err, ErrNotWritten) || !NoSpace(err) {
		t.Fatalf("the write that found the disk full: %v, want ErrNotWritten and ENOSPC", err)
	}
	last := l.LastPosition()
	checkLog(t, l, last)
	mustClose(t, l)

	// A stale prealloc.tmp from before (the issue: 16.6 MB of 32) is
	// removed at Open and not filled again: the next append fits.
	segPath := segPaths(t, mem, "/log")[0]
	seg := readFile(t, mem, segPath)
	writeFile(t, mem, segPath, seg[:segHeaderSize+(len(seg)-segHeaderSize)/2])
	mem.SetCapacity(0)
	writeFile(t, mem, "/log/"+preallocName, make([]byte, capacity/2))
	mem.SetCapacity(capacity)
	l = mustOpen(t, mem, "/log", opts)
	defer mustClose(t, l)
	if hasFile(mem, "/log/"+preallocName) {
		t.Fatal("a stale prealloc.tmp survived Open")
	}
	for range 20 {
		writeFrames(t, l, 1, 3, true)
		if hasFile(mem, "/log/"+preallocName) {
			t.Fatal("preallocating although the disk is too small")
		}
	}
	checkLog(t, l, l.LastPosition())
}

// A preparation that fails (ENOSPC on a file system that cannot tell its
// free space) removes its file at once and waits before it tries again:
// one attempt and one warning for hundreds of writes, not one per write
// (the issue: 1,974 warnings in a second, each truncating and re-filling).
// Meanwhile the log has the space and its writes succeed.
func TestPreallocFailureRemovesFileAndBacksOff(t *testing.T) {
	mem := vfs.NewMem()
	mem.SetCapacity(256 << 10)
	fs := &noSpaceInfo{FS: mem}
	logs, lg := newLogCounter()
	l := mustOpen(t, fs, "/log", Options{SegmentSize: 1 << 20, Logger: lg, preallocRetry: time.Hour})
	defer mustClose(t, l)
	waitFor(t, "the failed preparation", func() bool { return logs.count(slog.LevelWarn, "preallocat") > 0 })
	if hasFile(mem, "/log/"+preallocName) {
		t.Fatal("the failed preparation left prealloc.tmp (its space is lost to the log)")
	}
	for range 300 {
		writeFrames(t, l, 1, 3, true)
	}
	if n := fs.preallocOpens.Load(); n != 1 {
		t.Fatalf("%d preallocation attempts during 300 writes, want 1 (a wait after a failure)", n)
	}
	if n := logs.count(slog.LevelWarn, "preallocat"); n != 1 {
		t.Fatalf("%d warnings, want 1", n)
	}
	checkLog(t, l, l.LastPosition())
}

// While free space is below the reserve the preallocator does not start
// (logged once), the log writes into a segment made at the roll, and once
// space is back it prepares a segment and the log moves into it early.
func TestPreallocWaitsForSpaceThenMovesEarly(t *testing.T) {
	mem := vfs.NewMem()
	fault := vfs.NewFault(mem)
	const size = 64 << 10
	fault.SetSpace(1<<30, 2*size) // below 2 × size + reserve
	logs, lg := newLogCounter()
	l := mustOpen(t, fault, "/log", Options{SegmentSize: size, Logger: lg, preallocRetry: time.Millisecond})
	defer mustClose(t, l)
	for range 50 {
		writeFrames(t, l, 1, 3, true)
		time.Sleep(time.Millisecond)
	}
	if l.Filled() || hasFile(mem, "/log/"+preallocName) {
		t.Fatal("preallocated although space is low")
	}
	waitFor(t, "the low space logged", func() bool { return logs.count(slog.LevelInfo, "not preallocating") > 0 })
	if n := logs.count(slog.LevelInfo, "not preallocating"); n != 1 {
		t.Fatalf("low space logged %d times, want once", n)
	}
	fault.SetSpace(1<<30, 1<<29)
	waitFor(t, "the move into a preallocated segment", func() bool {
		writeFrames(t, l, 1, 3, true)
		return l.Filled()
	})
	if n := logs.count(slog.LevelInfo, "preallocating segments again"); n != 1 {
		t.Fatalf("space back logged %d times, want once", n)
	}
	checkLog(t, l, l.LastPosition())
}

// The log eats into the reserve while a segment is being zero-filled: the
// fill stops and its file is removed.
func TestPreallocStopsWhenTheLogNeedsTheRoom(t *testing.T) {
	mem := vfs.NewMem()
	fault := vfs.NewFault(mem)
	g := &gateFS{FS: fault, release: make(chan struct{})}
	const size = 1 << 20
	fault.SetSpace(1<<30, 1<<29)
	logs, lg := newLogCounter()
	l := mustOpen(t, gateSpace{g, fault}, "/log", Options{SegmentSize: size, Logger: lg, preallocRetry: time.Hour})
	defer mustClose(t, l)
	waitFor(t, "prealloc.tmp", func() bool { return hasFile(mem, "/log/"+preallocName) })
	fault.SetSpace(1<<30, 2*size)
	close(g.release)
	waitFor(t, "the preparation to stop", func() bool {
		return logs.count(slog.LevelInfo, "not preallocating") == 1 && !hasFile(mem, "/log/"+preallocName)
	})
	if l.pre.ready() {
		t.Fatal("a prepared file although space ran low")
	}
}
