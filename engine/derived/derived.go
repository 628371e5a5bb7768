// Package derived is the store of derived data: the read models of
// engine/projection and the snapshots of engine/snapshot, in one embedded
// pebble database under the data dir's projections/ folder. Everything in
// it can be rebuilt from the log, which never depends on it.
//
// pebble treats a failed write of its WAL or MANIFEST as the end of the
// world: it panics (or calls its logger's Fatalf, which must not return),
// leaving its commit pipeline locked, and on some paths (a WAL rotation)
// in a way no recover can catch. A full or failing disk must not take the
// daemon down with it. Two layers, so that the log — which never waits for
// this store — keeps working:
//
//   - A full disk never reaches pebble (room.go): a write refused for lack
//     of room waits and is tried again until there is room, and nothing is
//     preallocated. Projections and snapshots pause meanwhile and go on by
//     themselves; Problem says so, and Available lets requests answer 503
//     at once instead of waiting.
//   - Any other failure: a failed write or sync of the WAL or MANIFEST
//     (seen by room.go) marks the store failed before pebble's next
//     commit; a panic of pebble inside one of eventd's writes (Commit, Set,
//     Sync) is recovered there. Either way that write returns an error
//     wrapping ErrFailed, and every later one fails at once without calling
//     into pebble again. Those writes go into pebble one at a time: a
//     second one already inside would wait forever on the pipeline the
//     first one's panic left locked (they are background work — projection
//     flushes, snapshots — or requests that checked Available first).
//     Reads go on; projections stop in error and snapshots are not taken
//     until a restart, which resumes from what pebble had synced. A
//     failure pebble meets before eventd's next write sees it (a MANIFEST
//     write during a background flush or compaction, a WAL rotation under
//     a commit already inside) still ends the process, as pebble intends;
//     the next start recovers as after a crash.
//
// See docs/failures.md.
package derived

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// ErrClosed: a write after Close.
var ErrClosed = errors.New("derived-data store closed")

// ErrNoRoom: the store's writes wait for room on the disk (Available).
var ErrNoRoom = errors.New("derived-data store waits for room on the disk, try again later")

// ErrFailed is wrapped by every write error once the store has failed.
var ErrFailed = errors.New("derived-data store failed (projections resume from their last checkpoints at the next start)")

// Sizes of the store. The memtable is large enough that a flush of a busy
// projection (thousands of entries) does not rotate it every time; the
// block cache serves reads of entries evicted from the projections' own
// caches.
const (
	memTable = 32 << 20
	cache    = 64 << 20
)

// DB is the pebble database with its writes guarded. Read through the
// embedded *pebble.DB (Get, NewIter, NewBatch); write only through Commit,
// Set and Sync (a pebble.Batch's own Commit would bypass the guard).
type DB struct {
	*pebble.DB
	writeMu sync.Mutex // one write inside pebble at a time (see the package doc)
	failed  atomic.Pointer[error]
	closed  bool // guarded by writeMu
	lg      *slog.Logger
	room    *room
}

// Open opens (creating) the store at path over the file system fs (nil:
// the operating system's; tests pass pebble's crashable in-memory FS to
// simulate a power loss). pebble's messages go to lg: informational ones at
// debug level, errors as warnings (it retries them), fatal ones as errors.
func Open(path string, fs vfs.FS, lg *slog.Logger) (*DB, error) {
	if lg == nil {
		lg = slog.Default()
	}
	if fs == nil {
		fs = vfs.Default
	}
	rm := &room{lg: lg}
	c := pebble.NewCache(cache)
	opts := &pebble.Options{
		FS:           roomFS{fs, rm},
		Cache:        c,
		MemTableSize: memTable,
		Logger:       logger{lg.With("component", "pebble")},
		// A projection catching up rewrites its whole model every few
		// flushes: let more of it gather in L0 before compacting it.
		L0CompactionThreshold: 8,
		L0StopWritesThreshold: 32,
		LBaseMaxBytes:         256 << 20,
	}
	db, err := openOrNoRoom(path, opts, rm)
	if err != nil {
		return nil, fmt.Errorf("derived: opening %s: %w", path, err)
	}
	c.Unref()
	return &DB{DB: db, lg: lg, room: rm}, nil
}

// openNoRoomWait is how long Open lets pebble's writes wait for room (they
// wait like any other, room.go) before it gives up: a full disk must not
// hold the start with nothing served.
const openNoRoomWait = 2 * time.Second

// openOrNoRoom runs pebble.Open, and gives up on it (leaving it waiting
// for room: the daemon does not start) once its writes have waited
// openNoRoomWait. A panic of pebble in Open (Fatalf) is an error.
func openOrNoRoom(path string, opts *pebble.Options, rm *room) (*pebble.DB, error) {
	type opened struct {
		db  *pebble.DB
		err error
	}
	ch := make(chan opened, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				ch <- opened{err: fmt.Errorf("%v", v)}
			}
		}()
		db, err := pebble.Open(path, opts)
		ch <- opened{db, err}
	}()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var since time.Time
	for {
		select {
		case o := <-ch:
			return o.db, o.err
		case <-tick.C:
			cause := rm.waitCause()
			switch {
			case cause == nil:
				since = time.Time{}
			case since.IsZero():
				since = time.Now()
			case time.Since(since) >= openNoRoomWait:
				go func() { // should pebble get there after all
					if o := <-ch; o.db != nil {
						_ = o.db.Close()
					}
				}()
				return nil, cause
			}
		}
	}
}

// Err is nil until a write has failed fatally, then the error every write
// returns.
func (d *DB) Err() error {
	if p := d.failed.Load(); p != nil {
		return *p
	}
	return nil
}

// Problem is what /health reports about the store: its failure, or that
// its writes wait for room on the disk; "" when neither.
func (d *DB) Problem() string {
	err := d.Available()
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrFailed):
		return err.Error() + ": restart the daemon to resume the projections"
	}
	return "derived-data store: no room on the disk, projections and snapshots wait for it: " + d.room.waitCause().Error()
}

// Waiting says whether writes wait for room on the disk now.
func (d *DB) Waiting() bool { return d.room.waitCause() != nil }

// Available is nil when a write would go through now; else why not: the
// store failed (ErrFailed), or its writes wait for room (ErrNoRoom).
// Requests check it before they write, and answer 503 instead of waiting.
// (A disk that fills right after the check still makes that write wait.)
func (d *DB) Available() error {
	if err := d.Err(); err != nil {
		return err
	}
	if err := d.room.brokenErr(); err != nil {
		return fmt.Errorf("%w: %v", ErrFailed, err)
	}
	if cause := d.room.waitCause(); cause != nil {
		return fmt.Errorf("%w: %v", ErrNoRoom, cause)
	}
	return nil
}

// Commit commits b (the caller closes it).
func (d *DB) Commit(b *pebble.Batch, o *pebble.WriteOptions) error {
	return d.guard(func() error { return b.Commit(o) })
}

// CommitRequest commits b for a request, which must not wait on a full
// disk: like Commit, but it returns ErrNoRoom as soon as the store's writes
// wait for room, and the commit then finishes in the background when there
// is room. It takes b over (it is closed when the commit is done): the
// caller must not close it.
func (d *DB) CommitRequest(b *pebble.Batch, o *pebble.WriteOptions) error {
	if err := d.Available(); err != nil {
		_ = b.Close()
		return err
	}
	done := make(chan error, 1)
	go func() {
		err := d.Commit(b, o)
		_ = b.Close()
		done <- err
	}()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			return err
		case <-tick.C:
			if err := d.Available(); errors.Is(err, ErrNoRoom) {
				select {
				case err := <-done: // it went through after all
					return err
				default:
				}
				return err
			}
		}
	}
}

// Set writes one key.
func (d *DB) Set(key, value []byte, o *pebble.WriteOptions) error {
	return d.guard(func() error { return d.DB.Set(key, value, o) })
}

// Sync makes every earlier write durable (one synced, empty WAL write).
func (d *DB) Sync() error {
	return d.guard(func() error { return d.DB.LogData(nil, pebble.Sync) })
}

// Close closes pebble. After a failure it does not: pebble's Close would
// wait forever for the commit pipeline its panic left locked. The failure
// was reported when it happened, and what pebble synced before it is what
// the next start finds (the process ends after Close: nothing else may
// open the directory meanwhile).
func (d *DB) Close() error {
	d.writeMu.Lock() // after the writes that are under way (CommitRequest's may be)
	defer d.writeMu.Unlock()
	d.closed = true
	if err := d.Err(); err != nil {
		d.lg.Warn("derived-data store not closed: it failed earlier; the next start recovers it", "err", err)
		return nil
	}
	return d.DB.Close()
}

// guard runs a pebble write, alone, unless the store has failed, and turns
// a panic inside it (pebble's own, or logger.Fatalf's) into the store's
// failure.
func (d *DB) guard(write func() error) (err error) {
	d.writeMu.Lock()
	defer d.writeMu.Unlock()
	if err := d.Err(); err != nil {
		return err
	}
	if d.closed { // a CommitRequest left waiting while the daemon stopped
		return ErrClosed
	}
	if cause := d.room.brokenErr(); cause != nil { // fail before pebble tries (see roomFS)
		d.markFailed(cause.Error())
		return d.Err()
	}
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		msg := fmt.Sprint(v)
		if f, ok := v.(fatal); ok {
			msg = f.msg
		}
		d.markFailed(msg)
		err = d.Err()
	}()
	return write()
}

// markFailed records the store's failure (the first one only).
func (d *DB) markFailed(msg string) {
	first := fmt.Errorf("%w: %s", ErrFailed, msg)
	if d.failed.CompareAndSwap(nil, &first) {
		d.lg.Error("the derived-data store failed: projections stop in error and snapshots are not taken until the next start; the log is not affected", "err", msg)
	}
}
