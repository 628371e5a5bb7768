package segment

import (
	"os"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/eventd/eventd/segment/vfs"
)

// noFDs is the OS file system with the process out of file descriptors
// while starved is set: opening a file or a directory fails with EMFILE.
// OpenDir (the log's directory, held from Open) is passed through.
type noFDs struct {
	vfs.FS
	starved atomic.Bool
}

func (f *noFDs) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	if f.starved.Load() {
		return nil, &os.PathError{Op: "open", Path: name, Err: syscall.EMFILE}
	}
	return f.FS.OpenFile(name, flag, perm)
}

func (f *noFDs) SyncDir(dir string) error {
	if f.starved.Load() {
		return &os.PathError{Op: "open", Path: dir, Err: syscall.EMFILE}
	}
	return f.FS.SyncDir(dir)
}

func (f *noFDs) OpenDir(dir string) (vfs.Dir, error) {
	if f.starved.Load() {
		return nil, &os.PathError{Op: "open", Path: dir, Err: syscall.EMFILE}
	}
	return f.FS.(vfs.DirOpener).OpenDir(dir)
}

// With a prepared segment ready, a roll needs no new file descriptor: the
// file is open already and the directory is fsynced through the handle
// held since Open. So a process out of descriptors keeps rolling (it used
// to fail in SyncDir's open, after the rename, stickily).
func TestRollNeedsNoNewFileDescriptor(t *testing.T) {
	fs := &noFDs{FS: vfs.OS()}
	dir := t.TempDir()
	l := mustOpen(t, fs, dir, Options{SegmentSize: 64 << 10})
	waitFor(t, "a filled active segment", func() bool {
		writeFrames(t, l, 1, 1, true)
		return l.Filled()
	})
	start := len(l.Segments())
	rolls := 0
	for rolls < 3 {
		// The next segment is prepared once the active one is a quarter
		// full; wait for it before running out of descriptors.
		waitFor(t, "a prepared segment", func() bool {
			writeFrames(t, l, 1, 20, true)
			return l.pre.ready()
		})
		fs.starved.Store(true)
		n := len(l.Segments())
		for len(l.Segments()) == n {
			var b Batch
			nextBatch(l, &b, 20)
			if _, _, err := l.Write(&b); err != nil {
				t.Fatalf("roll %d without file descriptors: %v", rolls+1, err)
			}
			if err := l.Sync(); err != nil {
				t.Fatalf("sync: %v", err)
			}
		}
		fs.starved.Store(false)
		rolls++
	}
	if len(l.Segments()) != start+3 {
		t.Fatalf("%d segments, want %d", len(l.Segments()), start+3)
	}
	last := l.LastPosition()
	mustClose(t, l)
	l = mustOpen(t, vfs.OS(), dir, Options{SegmentSize: 64 << 10, VerifyFull: true})
	checkLog(t, l, last)
	mustClose(t, l)
}
