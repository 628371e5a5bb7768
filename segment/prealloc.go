package segment

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/eventd/eventd/segment/vfs"
)

// preallocator prepares the next segment file off the append path: a
// prealloc.tmp zero-filled to the segment size and synced, because writing
// into space that was zero-filled beforehand is about twice as fast to
// fdatasync as appending (no size or extent metadata to flush per sync).
// createSegment takes the file at a roll; when it is not ready yet, the
// roll creates an empty file instead of waiting.
//
// Preallocation is an optimisation and must never take space the log
// itself needs:
//
//   - It starts only when the file system (vfs.DiskSpace, statfs) has at
//     least the segment size plus a reserve free (reserve), and it
//     stops when the log's own writes eat into that reserve while it fills.
//     A file system that cannot tell its space is taken to have plenty.
//   - Whatever stops a preparation (ENOSPC, another error, the reserve, the
//     log running out of space: pause), the file is removed at once: the
//     space goes back to the log. A stale prealloc.tmp (a crash) is removed
//     by Open like every *.tmp.
//   - After a failure it waits before the next try (1 s, doubling up to
//     a minute, back to the start after a success) and logs once per try,
//     not once per write: kicks while it waits find it busy and do nothing.
//     Low space is logged when preallocation stops for it, and when it
//     starts again.
//
// The log moves into a prepared file as soon as one is ready (Write); while
// preallocation is off, it simply goes on in segments created at the roll.
type preallocator struct {
	fs    vfs.FS
	dir   string
	size  int64
	lg    *slog.Logger
	retry time.Duration // first wait after a failure

	busy    atomic.Bool   // a request is queued, being worked on, waiting out a failure, or its file is waiting in ready
	paused  atomic.Bool   // the log ran out of space: stop the fill under way, wait before the next
	req     chan struct{} // capacity 1
	readyCh chan prepared // capacity 1
	stop    chan struct{}
	done    chan struct{}

	// Owned by the loop goroutine.
	wait   time.Duration // the current wait after a failure; 0 after a success
	lowLog bool          // "space is low" was logged and nothing succeeded since
}

type prepared struct {
	f    vfs.File
	path string
}

const (
	preallocName  = "prealloc.tmp"
	preallocChunk = 256 << 10 // zero-filled and synced at a time
	// preallocMaxWait caps the wait between tries after failures.
	preallocMaxWait = time.Minute
)

// reserve is the free space a preparation must leave for the log beyond
// the file it fills, on a file system of total bytes: one more segment,
// plus 64 MiB or an eighth of the file system, whichever is less. So
// preallocation starts only with 2 × segment size + that margin free (on
// 32 MiB with 64 MiB segments: never), and stops when the log eats into it.
func (p *preallocator) reserve(total int64) int64 { return p.size + min(64<<20, total/8) }

var (
	// errLowSpace: a preparation did not start, or stopped, because the
	// file system is short of its reserve.
	errLowSpace = errors.New("segment: free space below the preallocation reserve")
	// errPaused: the log asked for the room back (it ran out of space, or
	// could not use the prepared file).
	errPaused = errors.New("segment: preallocation paused by the log")
	// errStopped: the log is closing.
	errStopped = errors.New("segment: preallocator stopped")
)

func newPreallocator(fs vfs.FS, dir string, size int64, retry time.Duration, lg *slog.Logger) *preallocator {
	p := &preallocator{
		fs: fs, dir: dir, size: size, lg: lg, retry: retry,
		req:     make(chan struct{}, 1),
		readyCh: make(chan prepared, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	go p.loop()
	return p
}

// kick asks for a file unless one is already on its way or waiting, or
// the preallocator is waiting after a failure.
func (p *preallocator) kick() {
	if p.busy.CompareAndSwap(false, true) {
		p.req <- struct{}{}
	}
}

// ready reports whether a prepared file is waiting to be taken.
func (p *preallocator) ready() bool { return len(p.readyCh) > 0 }

// take returns the prepared file if it is ready, without waiting.
func (p *preallocator) take() (prepared, bool) {
	select {
	case x := <-p.readyCh:
		p.busy.Store(false)
		return x, true
	default:
		return prepared{}, false
	}
}

// pause gives the space back when the log ran out of it (or could not use
// the prepared file): a file waiting to be taken is removed, a fill under
// way stops and removes its file, and the next try waits like one after a
// failure (and then only starts if the reserve is free).
func (p *preallocator) pause() {
	p.paused.Store(true)
	if x, ok := p.take(); ok {
		p.discard(x.f)
	}
}

func (p *preallocator) loop() {
	defer close(p.done)
	for {
		select {
		case <-p.stop:
			return
		case <-p.req:
		}
		x, err := p.prepare()
		if err == nil && p.paused.Swap(false) {
			// pause came between the last check of the fill and now: it
			// found nothing to take, so give the file back here.
			p.discard(x.f)
			err = errPaused
		}
		if err == nil {
			if p.lowLog {
				p.lg.Info("segment: free space is back above the reserve: preallocating segments again", "dir", p.dir)
			}
			p.wait, p.lowLog = 0, false
			p.readyCh <- x // never blocks: one request at a time
			continue
		}
		if err == errStopped {
			return
		}
		p.wait = min(max(2*p.wait, p.retry), preallocMaxWait)
		switch {
		case errors.Is(err, errLowSpace):
			if !p.lowLog {
				p.lowLog = true
				p.lg.Info("segment: not preallocating segments while free space is low (the log keeps its room)", "dir", p.dir, "err", err)
			}
		case err == errPaused:
			p.lg.Info("segment: preallocation paused: the log needed the room (or could not use the prepared file)", "dir", p.dir, "retryIn", p.wait)
		default:
			p.lg.Warn("segment: preallocating the next segment failed; the file is removed", "err", err, "retryIn", p.wait)
		}
		// busy stays set while waiting: kicks meanwhile do nothing.
		t := time.NewTimer(p.wait)
		select {
		case <-p.stop:
			t.Stop()
			return
		case <-t.C:
		}
		p.busy.Store(false)
	}
}

// room checks that free space less what is still to be filled leaves the
// reserve. A file system that cannot tell is taken to have room.
func (p *preallocator) room(toFill int64) error {
	sp, err := vfs.DiskSpace(p.fs, p.dir)
	if err != nil {
		return nil
	}
	if reserve := p.reserve(sp.Total); sp.Free-toFill < reserve {
		return fmt.Errorf("%w: %d bytes free, %d more to zero-fill, reserve %d", errLowSpace, sp.Free, toFill, reserve)
	}
	return nil
}

func (p *preallocator) prepare() (prepared, error) {
	if p.paused.Swap(false) {
		return prepared{}, errPaused
	}
	if err := p.room(p.size); err != nil {
		return prepared{}, err
	}
	path := filepath.Join(p.dir, preallocName)
	f, err := p.fs.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return prepared{}, err
	}
	for off := int64(0); off < p.size; {
		select {
		case <-p.stop:
			p.discard(f)
			return prepared{}, errStopped
		default:
		}
		err := p.room(p.size - off)
		if err == nil && p.paused.Swap(false) {
			err = errPaused
		}
		if err != nil {
			p.discard(f)
			return prepared{}, err
		}
		n := min(preallocChunk, p.size-off)
		if _, err := f.WriteAt(zeros[:n], off); err != nil {
			p.discard(f)
			return prepared{}, fileErr("write", path, err)
		}
		off += n
		// Sync every chunk: on ext4 (data=ordered) an fsync of the active
		// segment also flushes other files' dirty data, so a large unsynced
		// zero-fill would stall the writer's syncs.
		if err := f.Sync(); err != nil {
			p.discard(f)
			return prepared{}, fileErr("sync", path, err)
		}
	}
	return prepared{f: f, path: path}, nil
}

// discard closes and removes a prepared (or half-prepared) file: its space
// goes back to the log.
func (p *preallocator) discard(f vfs.File) {
	f.Close()
	path := filepath.Join(p.dir, preallocName)
	if err := p.fs.Remove(path); err != nil && !vfs.IsNotExist(err) {
		p.lg.Warn("segment: removing the preallocated file failed", "file", path, "err", err)
	}
}

// close stops the goroutine and removes a file left waiting.
func (p *preallocator) close() {
	close(p.stop)
	<-p.done
	if x, ok := p.take(); ok {
		p.discard(x.f)
	}
}
