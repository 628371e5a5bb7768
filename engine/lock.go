package engine

import (
	"fmt"
	"os"
	"sync"
	"syscall"

	"github.com/eventd/eventd/segment/vfs"
)

// memLocks stands in for flock on file systems that are not the OS's (tests).
var memLocks sync.Map

// lockDir takes the data dir's exclusive lock: flock(LOCK) on the real file
// system, so a second daemon on the same dir fails at once.
func lockDir(fs vfs.FS, realFS bool, dir string) (unlock func() error, err error) {
	path := Layout{dir}.Lock()
	if !realFS {
		key := fmt.Sprintf("%p|%s", fs, path)
		if _, loaded := memLocks.LoadOrStore(key, true); loaded {
			return nil, ErrLocked
		}
		return func() error { memLocks.Delete(key); return nil }, nil
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if err == syscall.EWOULDBLOCK {
			return nil, fmt.Errorf("%w: %s", ErrLocked, path)
		}
		return nil, err
	}
	return func() error {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		return f.Close()
	}, nil
}
