// Package derivedtest helps tests make the derived-data store's disk fail.
package derivedtest

import (
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

// WAL is an errorfs injector: while on, every write, sync and
// preallocation of pebble's WAL files fails with Errno — syscall.EIO for a
// failing disk, syscall.ENOSPC for a full one. With All, every write of
// every file fails instead (syncs succeed): a full disk as it really is.
type WAL struct {
	Errno syscall.Errno
	All   bool
	on    atomic.Bool
}

// Wrap returns fs with w's failures injected.
func (w *WAL) Wrap(fs vfs.FS) vfs.FS { return errorfs.Wrap(fs, w) }

// On starts failing; Off stops.
func (w *WAL) On()  { w.on.Store(true) }
func (w *WAL) Off() { w.on.Store(false) }

func (w *WAL) String() string { return "WAL " + w.Errno.Error() }

// MaybeError implements errorfs.Injector.
func (w *WAL) MaybeError(op errorfs.Op) error {
	if !w.on.Load() {
		return nil
	}
	if w.All {
		if op.Kind == errorfs.OpFileWrite || op.Kind == errorfs.OpFileWriteAt {
			return w.Errno
		}
		return nil
	}
	if !strings.HasSuffix(op.Path, ".log") {
		return nil
	}
	switch op.Kind {
	case errorfs.OpFileWrite, errorfs.OpFileWriteAt, errorfs.OpFileSync, errorfs.OpFileSyncData, errorfs.OpFileSyncTo, errorfs.OpFilePreallocate:
		return w.Errno
	}
	return nil
}
