package derived

import (
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// roomFS keeps a full disk from reaching pebble, which takes any failed
// write of its WAL or MANIFEST for the end of the world (see the package
// doc): it panics, and on some paths (a WAL rotation) in a way that cannot
// be recovered. So, under pebble:
//
//   - A write refused for lack of room (ENOSPC, EDQUOT) waits and is tried
//     again — 10 ms, doubling to 1 s — until it goes through. pebble's
//     writers stall meanwhile: projections stop moving (their lag shows
//     it), requests that would write answer 503 (DB.Available,
//     CommitRequest), reads go on. Once the log's own full-disk
//     handling and the operator have made room, they go on by themselves.
//     The first wait is logged, and /health says so (DB.Problem).
//   - Nothing is preallocated: pebble reserves each WAL in chunks of 110%
//     of the memtable (35 MiB here) before writing into it, which on a
//     nearly full disk takes the space the log needs (and a refused
//     reservation on ext4 keeps what it had got). Without it a WAL grows by
//     what is written, as any file does.
//   - While the store opens, writes wait the same way, and Open gives up
//     once one has waited openNoRoomWait: the daemon does not start.
//
// Other errors pass through. One of a WAL or MANIFEST file (a write or a
// sync: EIO, or any fsync error) marks the store broken at once, so that
// the next write fails the store (DB.guard) before pebble, whose next
// commit might rotate the broken WAL — a panic no recover catches.
type roomFS struct {
	vfs.FS
	r *room
}

// room is the state roomFS's files share: who waits for room.
type room struct {
	lg      *slog.Logger
	broken  atomic.Pointer[error] // the first failure of a WAL or MANIFEST file
	mu      sync.Mutex
	waiting int   // writes waiting for room now
	cause   error // the error of the first of them
}

// vital says whether a failure of the named file breaks pebble: its WAL
// or its MANIFEST.
func vital(name string) bool {
	base := filepath.Base(name)
	return strings.HasSuffix(base, ".log") || strings.HasPrefix(base, "MANIFEST-")
}

// fail records err of file name (nil: nothing) and returns it.
func (r *room) fail(name string, err error) error {
	if err != nil && vital(name) {
		r.broken.CompareAndSwap(nil, &err)
	}
	return err
}

// brokenErr is the first failure of a vital file, or nil.
func (r *room) brokenErr() error {
	if p := r.broken.Load(); p != nil {
		return *p
	}
	return nil
}

// roomFile is a file of roomFS.
type roomFile struct {
	vfs.File
	r    *room
	name string
}

func noRoom(err error) bool { return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) }

// retry runs write until it is not refused for lack of room.
func (r *room) retry(name string, write func() error) (err error) {
	err = write()
	if err == nil || !noRoom(err) {
		return r.fail(name, err)
	}
	r.mu.Lock()
	if r.waiting == 0 {
		r.cause = err
		r.lg.Error("derived-data store: no room on the disk; its writes wait until there is (projections and snapshots pause, the log is not affected)", "file", name, "err", err)
	}
	r.waiting++
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.waiting--
		if r.waiting == 0 && err == nil {
			r.lg.Info("derived-data store: room again; its writes go on", "file", name)
		}
		r.mu.Unlock()
	}()
	for backoff := 10 * time.Millisecond; ; backoff = min(2*backoff, time.Second) {
		time.Sleep(backoff)
		if err = write(); err == nil || !noRoom(err) {
			return r.fail(name, err)
		}
	}
}

// waitCause is nil when no write waits for room, else the error of the
// first one.
func (r *room) waitCause() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.waiting == 0 {
		return nil
	}
	return r.cause
}

func (f roomFile) Write(p []byte) (int, error) {
	done := 0
	err := f.r.retry(f.name, func() error {
		n, err := f.File.Write(p[done:])
		done += n
		return err
	})
	return done, err
}

func (f roomFile) WriteAt(p []byte, off int64) (int, error) {
	done := 0
	err := f.r.retry(f.name, func() error {
		n, err := f.File.WriteAt(p[done:], off+int64(done))
		done += n
		return err
	})
	return done, err
}

// Preallocate reserves nothing (see roomFS).
func (roomFile) Preallocate(offset, length int64) error { return nil }

func (f roomFile) Sync() error     { return f.r.fail(f.name, f.File.Sync()) }
func (f roomFile) SyncData() error { return f.r.fail(f.name, f.File.SyncData()) }

func (f roomFile) SyncTo(length int64) (bool, error) {
	full, err := f.File.SyncTo(length)
	return full, f.r.fail(f.name, err)
}

func (fs roomFS) wrap(name string, f vfs.File, err error) (vfs.File, error) {
	if err != nil {
		return nil, err
	}
	return roomFile{File: f, r: fs.r, name: name}, nil
}

func (fs roomFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, c)
	return fs.wrap(name, f, err)
}

func (fs roomFS) ReuseForWrite(oldname, newname string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname, c)
	return fs.wrap(newname, f, err)
}

func (fs roomFS) OpenReadWrite(name string, c vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := fs.FS.OpenReadWrite(name, c, opts...)
	return fs.wrap(name, f, err)
}
