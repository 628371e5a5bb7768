package derived

import (
	"errors"
	"log/slog"
	"sync"
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
//     it), snapshots wait, reads go on. Once the log's own full-disk
//     handling and the operator have made room, they go on by themselves.
//     The first wait is logged, and /health says so (DB.Problem).
//   - A preallocation refused for lack of room is given up: pebble
//     reserves each WAL in chunks of 110% of the memtable (35 MiB here)
//     before writing into it, which on a nearly full disk takes the space
//     the log needs. Without it a WAL grows by what is written.
//
// Other errors pass through (and fail the store, see DB.guard).
type roomFS struct {
	vfs.FS
	r *room
}

// room is the state roomFS's files share: who waits for room.
type room struct {
	lg      *slog.Logger
	mu      sync.Mutex
	waiting int   // writes waiting for room now
	cause   error // the error of the first of them
}

// roomFile is a file of roomFS.
type roomFile struct {
	vfs.File
	r    *room
	name string
}

func noRoom(err error) bool { return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) }

// retry runs write until it is not refused for lack of room.
func (r *room) retry(name string, write func() error) error {
	err := write()
	if err == nil || !noRoom(err) {
		return err
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
		if r.waiting == 0 {
			r.lg.Info("derived-data store: room again; its writes go on", "file", name)
		}
		r.mu.Unlock()
	}()
	for backoff := 10 * time.Millisecond; ; backoff = min(2*backoff, time.Second) {
		time.Sleep(backoff)
		if err = write(); err == nil || !noRoom(err) {
			return err
		}
	}
}

// problem is "" when no write waits, else what /health reports.
func (r *room) problem() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.waiting == 0 {
		return ""
	}
	return "derived-data store: no room on the disk, projections and snapshots wait for it: " + r.cause.Error()
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

func (f roomFile) Preallocate(offset, length int64) error {
	if err := f.File.Preallocate(offset, length); err != nil && !noRoom(err) {
		return err
	}
	return nil
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
