package segment

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"

	"github.com/eventd/eventd/segment/vfs"
)

// SegmentInfo describes one segment file.
type SegmentInfo struct {
	Ordinal  uint32
	FirstPos uint64
	Path     string
	Size     int64 // bytes in use: header and frames (and the footer once sealed)
	Sealed   bool
}

// segment is one open segment file. Only end and sealed change, and only
// for the active (last) segment.
type segment struct {
	ordinal  uint32
	firstPos uint64
	path     string
	f        vfs.File
	end      atomic.Int64 // offset where the frames end: data below it is written
	sealed   atomic.Bool  // has a footer; never changes again
	// filled: the file was zero-filled to SegmentSize beforehand, so an
	// fdatasync after a write has no size or extent metadata to flush.
	// Writer state (the active segment's).
	filled bool
}

// logState is the immutable list of segments readers use. A new one is
// published (never modified) when segments are added or cut.
type logState struct {
	segs []*segment
}

// Log is an append-only log of frames in segment files. See the package
// documentation for who may call what concurrently.
type Log struct {
	dir  string
	dirf vfs.Dir // the directory, held open for syncDir; nil: FS.SyncDir
	fs   vfs.FS
	opts Options
	lg   *slog.Logger

	state   atomic.Pointer[logState] // readers load it; written under mu
	lastPos atomic.Uint64            // last position written (not necessarily synced)

	mu       sync.Mutex // the writer state below; readers never take it
	active   *segment
	writeOff int64         // where the next frame goes in active
	digest   xxhash.Digest // of active's bytes [0, writeOff): the footer's file hash
	dirty    bool          // active has writes not yet synced
	failed   error         // sticky: a write or sync failed, the log takes no more writes
	closed   bool
	// probeSize: how much room Probe asks for; set when a Write found no
	// room (the size of that frame, with a segment header and footer).
	probeSize int64

	pre    *preallocator // nil when disabled
	sealWG sync.WaitGroup
}

// Open opens the log in dir (creating dir and a first segment if needed)
// and recovers it: a torn or zeroed tail of the last segment is cut off and
// zeroed, a non-last segment without a footer is scanned and sealed, and
// with VerifyFull every sealed segment is checked. Damage anywhere but the
// tail fails Open with a *CorruptionError unless opts.Repair.
func Open(dir string, opts Options) (*Log, error) {
	opts = opts.withDefaults()
	l := &Log{dir: dir, fs: opts.FS, opts: opts, lg: opts.Logger}
	if err := l.fs.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if do, ok := l.fs.(vfs.DirOpener); ok {
		d, err := do.OpenDir(dir)
		if err != nil {
			return nil, err
		}
		l.dirf = d
	}
	segs, err := l.openSegments()
	if err == nil {
		segs, err = l.recover(segs)
	}
	if err != nil {
		for _, s := range segs {
			s.f.Close()
		}
		if l.dirf != nil {
			l.dirf.Close()
		}
		return nil, err
	}
	l.state.Store(&logState{segs: segs})
	if !opts.DisablePrealloc {
		l.pre = newPreallocator(l.fs, dir, opts.SegmentSize, opts.preallocRetry, l.lg)
		if !l.active.filled {
			// Appending to a file that was not zero-filled costs about twice
			// the fdatasync: prepare a filled one now and move to it as soon
			// as it is ready (Write), instead of at the next roll.
			l.pre.kick()
		}
		l.maybePreallocLocked()
	}
	return l, nil
}

// Filled reports whether the active segment was zero-filled to
// SegmentSize before it was written (the fast case for fdatasync). A log
// moves into such a segment soon after it opens (see Write).
func (l *Log) Filled() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.active.filled
}

// LastPosition returns the last position written to the log (0: empty).
// Written is not synced: the engine publishes what readers may see.
func (l *Log) LastPosition() uint64 { return l.lastPos.Load() }

// Segments describes the segments, oldest first. Any goroutine.
func (l *Log) Segments() []SegmentInfo {
	segs := l.state.Load().segs
	out := make([]SegmentInfo, len(segs))
	for i, s := range segs {
		sealed := s.sealed.Load()
		size := s.end.Load()
		if sealed {
			size += footerSize
		}
		out[i] = SegmentInfo{Ordinal: uint32(i), FirstPos: s.firstPos, Path: s.path, Size: size, Sealed: sealed}
	}
	return out
}

// Close syncs the active segment, stops the background work and closes the
// files. Using the log afterwards returns ErrClosed.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	l.closed = true
	var errs []error
	if l.failed == nil && l.dirty {
		if err := l.active.f.Sync(); err != nil {
			errs = append(errs, fmt.Errorf("segment: %w", fileErr("sync", l.active.path, err)))
		}
	}
	l.mu.Unlock()
	if l.pre != nil {
		l.pre.close()
	}
	l.sealWG.Wait()
	for _, s := range l.state.Load().segs {
		errs = append(errs, s.f.Close())
	}
	if l.dirf != nil {
		errs = append(errs, l.dirf.Close())
	}
	return errors.Join(errs...)
}

// syncDir makes the names in the log's directory durable: through the
// directory held open since Open when the file system can (no new file
// descriptor needed), else FS.SyncDir.
func (l *Log) syncDir() error {
	if l.dirf != nil {
		return l.dirf.Sync()
	}
	return l.fs.SyncDir(l.dir)
}
