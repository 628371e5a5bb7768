package segment

import (
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"

	"github.com/eventd/eventd/segment/vfs"
)

// preallocator prepares the next segment file off the append path: a
// prealloc.tmp zero-filled to the segment size and synced, because writing
// into space that was zero-filled beforehand is about twice as fast to
// fdatasync as appending (no size or extent metadata to flush per sync).
// createSegment takes the file at a roll; when it is not ready yet, the
// roll creates an empty file instead of waiting.
type preallocator struct {
	fs   vfs.FS
	dir  string
	size int64
	lg   *slog.Logger

	busy    atomic.Bool   // a request is queued, being worked on, or its file is waiting in ready
	req     chan struct{} // capacity 1
	readyCh chan prepared // capacity 1
	stop    chan struct{}
	done    chan struct{}
}

type prepared struct {
	f    vfs.File
	path string
}

const (
	preallocName  = "prealloc.tmp"
	preallocChunk = 256 << 10 // zero-filled and synced at a time
)

func newPreallocator(fs vfs.FS, dir string, size int64, lg *slog.Logger) *preallocator {
	p := &preallocator{
		fs: fs, dir: dir, size: size, lg: lg,
		req:     make(chan struct{}, 1),
		readyCh: make(chan prepared, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
	go p.loop()
	return p
}

// kick asks for a file unless one is already on its way or waiting.
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

func (p *preallocator) loop() {
	defer close(p.done)
	for {
		select {
		case <-p.stop:
			return
		case <-p.req:
		}
		x, err := p.prepare()
		if err != nil {
			if err != errStopped {
				p.lg.Warn("segment: preallocating the next segment failed", "err", err)
			}
			p.busy.Store(false)
			continue
		}
		p.readyCh <- x // never blocks: one request at a time
	}
}

type stopError struct{}

func (stopError) Error() string { return "segment: preallocator stopped" }

var errStopped error = stopError{}

func (p *preallocator) prepare() (prepared, error) {
	path := filepath.Join(p.dir, preallocName)
	f, err := p.fs.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return prepared{}, err
	}
	for off := int64(0); off < p.size; {
		select {
		case <-p.stop:
			f.Close()
			return prepared{}, errStopped
		default:
		}
		n := min(preallocChunk, p.size-off)
		if _, err := f.WriteAt(zeros[:n], off); err != nil {
			f.Close()
			return prepared{}, err
		}
		off += n
		// Sync every chunk: on ext4 (data=ordered) an fsync of the active
		// segment also flushes other files' dirty data, so a large unsynced
		// zero-fill would stall the writer's syncs.
		if err := f.Sync(); err != nil {
			f.Close()
			return prepared{}, err
		}
	}
	return prepared{f: f, path: path}, nil
}

// close stops the goroutine and closes a file left waiting (its
// prealloc.tmp is removed at the next Open).
func (p *preallocator) close() {
	close(p.stop)
	<-p.done
	if x, ok := p.take(); ok {
		x.f.Close()
	}
}
