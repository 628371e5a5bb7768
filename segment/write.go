package segment

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/eventd/eventd/segment/vfs"
)

// Write appends the batch as one frame with one WriteAt, rolling to a new
// segment first if the frame (and a footer) would not fit. It returns the
// segment ordinal and the frame's offset in it; record i of the batch is at
// MakeLoc(seg, frameOff+rel_i). The batch's first position must follow
// LastPosition. The engine's commit-token holder only.
//
// An error wrapping ErrNotWritten left the log as it was: a file that could
// not be created at a roll (EMFILE, ENOSPC, …; the next Write rolls again),
// a frame that found no room (ENOSPC, EDQUOT: what it wrote in part is
// zeroed or cut off again; Probe tells when there is room), or a batch over
// the size limits. Any other failed write or roll is sticky: every later
// Write and Sync returns the same error.
func (l *Log) Write(b *Batch) (seg uint32, frameOff int64, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.closed:
		return 0, 0, ErrClosed
	case l.failed != nil:
		return 0, 0, l.failed
	case b.count == 0:
		return 0, 0, errors.New("segment: empty batch")
	case b.err != nil:
		return 0, 0, b.err
	case b.maxRec > l.opts.MaxRecordSize:
		return 0, 0, fmt.Errorf("%w: %w: %d bytes, limit %d", ErrNotWritten, ErrRecordTooLarge, b.maxRec, l.opts.MaxRecordSize)
	case len(b.buf)-frameHeaderSize > maxFrameLen:
		return 0, 0, fmt.Errorf("%w: a batch of %d bytes is over the frame limit", ErrNotWritten, len(b.buf))
	case b.firstPos != l.lastPos.Load()+1:
		return 0, 0, fmt.Errorf("segment: batch starts at position %d, log ends at %d", b.firstPos, l.lastPos.Load())
	}
	frame := b.buf
	putFrameHeader(frame, uint32(b.count), b.firstPos)
	if !l.active.filled && l.pre != nil && l.pre.ready() {
		if err := l.moveToFilledLocked(); err != nil {
			if err = l.failedLocked("roll: ", err, 0); !errors.Is(err, ErrNotWritten) {
				return 0, 0, err
			}
			// Nothing changed: go on in the segment we are in, and let the
			// preallocator wait before it tries again.
			l.lg.Warn("segment: could not move into the preallocated segment", "err", err)
			l.pre.pause()
		}
	}
	if l.writeOff > segHeaderSize && l.writeOff+int64(len(frame))+footerSize > l.opts.SegmentSize {
		if err := l.rollLocked(); err != nil {
			return 0, 0, l.failedLocked("roll: ", err, int64(len(frame)))
		}
	}
	s := l.active
	if n, err := s.f.WriteAt(frame, l.writeOff); err != nil {
		return 0, 0, l.failedLocked("", l.unwriteLocked(s, n, len(frame), err), int64(len(frame)))
	}
	l.digest.Write(frame)
	frameOff = l.writeOff
	l.writeOff += int64(len(frame))
	l.dirty = true
	s.end.Store(l.writeOff)
	l.lastPos.Store(b.firstPos + uint64(b.count) - 1)
	l.maybePreallocLocked()
	return s.ordinal, frameOff, nil
}

// failedLocked turns an error of Write's into what Write returns: one
// marked notWritten becomes an ErrNotWritten (and, when the file system is
// full, Probe is told the room to ask for and the preallocator gives its
// space back); any other becomes the sticky failure. what prefixes the
// cause ("roll: "); need is the size of the frame that was to be written.
func (l *Log) failedLocked(what string, err error, need int64) error {
	var nw *notWritten
	if !errors.As(err, &nw) {
		if l.failed == nil {
			l.failed = fmt.Errorf("segment: %s%w", what, err)
		}
		return l.failed
	}
	if NoSpace(err) {
		l.probeSize = need + segHeaderSize + footerSize
		if l.pre != nil {
			l.pre.pause()
		}
	}
	return fmt.Errorf("%w: %s%w", ErrNotWritten, what, nw.err)
}

// maybePreallocLocked asks for the next segment to be prepared: at once
// while the active segment was not zero-filled (the log moves into a
// prepared one as soon as it is ready), else once the active one is a
// quarter full, early enough to be ready at the roll, late enough that a
// short-lived or little-used log never zero-fills a whole segment. A kick
// costs nothing while a file is on its way, waiting, or the preallocator
// waits after a failure.
func (l *Log) maybePreallocLocked() {
	if l.pre != nil && (!l.active.filled || l.writeOff >= l.opts.SegmentSize/4) {
		l.pre.kick()
	}
}

// moveToFilledLocked moves the writer from an active segment that was not
// zero-filled (the first of a new log, or one a roll had to create without
// a prepared file) into the prepared one: by rolling early when the active
// segment holds frames, or by putting the prepared file in place of an
// empty one (same name, renamed over it: a crash leaves one or the other,
// both empty).
func (l *Log) moveToFilledLocked() error {
	if l.writeOff > segHeaderSize {
		return l.rollLocked()
	}
	old := l.active
	s, err := l.createSegment(old.firstPos)
	if err != nil {
		return err
	}
	s.ordinal = old.ordinal
	st := l.state.Load()
	segs := append([]*segment(nil), st.segs...)
	segs[len(segs)-1] = s
	l.state.Store(&logState{segs: segs})
	l.active = s
	old.f.Close() // its name is s's now; nothing of it is needed
	return nil
}

// rollLocked syncs the active segment, makes the next one and starts
// sealing the old one in the background. A failed sync is sticky; a
// segment that could not be made (createSegment's notWritten errors)
// leaves everything as it was, and the next Write rolls again.
func (l *Log) rollLocked() error {
	old := l.active
	if l.dirty {
		if err := old.f.Sync(); err != nil {
			return fileErr("sync", old.path, err)
		}
		l.dirty = false
	}
	dataEnd, hash := l.writeOff, l.digest.Sum64()
	s, err := l.createSegment(l.lastPos.Load() + 1)
	if err != nil {
		return err
	}
	st := l.state.Load()
	s.ordinal = uint32(len(st.segs))
	segs := append(st.segs[:len(st.segs):len(st.segs)], s)
	l.state.Store(&logState{segs: segs})
	l.active = s
	l.writeOff = segHeaderSize
	l.digest.Reset()
	l.digest.Write(appendSegHeader(nil, s.firstPos))
	l.sealWG.Add(1)
	go l.seal(old, dataEnd, hash)
	return nil
}

const rollName = "roll.tmp"

// createSegment makes the segment whose first position is first and
// returns it open: the preallocated file when one is ready, else a new
// empty one (synchronously). Header, sync, rename to the final name, sync
// the directory. Until the rename nothing of the log has changed: a
// failure to open, write or rename removes the temporary file and is
// returned marked notWritten. A failed sync is sticky (after it the page
// cache cannot be trusted), and so is anything after the rename.
func (l *Log) createSegment(first uint64) (*segment, error) {
	var f vfs.File
	var tmp string
	filled := false
	if l.pre != nil {
		if p, ok := l.pre.take(); ok {
			f, tmp, filled = p.f, p.path, true
		}
	}
	if f == nil {
		tmp = filepath.Join(l.dir, rollName)
		var err error
		if f, err = l.fs.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644); err != nil {
			return nil, &notWritten{err}
		}
	}
	discard := func(err error) error {
		f.Close()
		_ = l.fs.Remove(tmp) // best effort: a leftover *.tmp is removed at Open
		return err
	}
	path := filepath.Join(l.dir, segName(first))
	if _, err := f.WriteAt(appendSegHeader(nil, first), 0); err != nil {
		return nil, discard(&notWritten{fileErr("write", tmp, err)})
	}
	if err := f.Sync(); err != nil {
		return nil, discard(fileErr("sync", tmp, err))
	}
	if err := l.fs.Rename(tmp, path); err != nil {
		if NoSpace(err) || noFileSlots(err) {
			// Refused before anything changed: rename is atomic.
			return nil, discard(&notWritten{err})
		}
		// EIO and the like: whether the name moved is unknown, and the
		// active segment's name may be the prepared file's now. Sticky;
		// recovery at the next start sorts the directory out.
		f.Close()
		return nil, err
	}
	if err := l.syncDir(); err != nil {
		f.Close()
		return nil, fmt.Errorf("sync directory %s (creating %s): %w", l.dir, path, err)
	}
	s := &segment{firstPos: first, path: path, f: f, filled: filled}
	s.end.Store(segHeaderSize)
	return s, nil
}

// seal writes the footer of a segment the writer has left (its data is
// already synced). A failure is logged: the segment is sealed at the next
// Open instead.
func (l *Log) seal(s *segment, dataEnd int64, hash uint64) {
	defer l.sealWG.Done()
	if err := writeFooter(s.f, dataEnd, hash); err != nil {
		err = fileErr("seal", s.path, err)
		l.lg.Error("segment: sealing failed; it is retried at the next open", "file", s.path, "err", err)
		return
	}
	s.sealed.Store(true)
}

// writeFooter seals a segment file whose frames end at dataEnd: footer,
// fdatasync, cut the zero tail, sync.
func writeFooter(f vfs.File, dataEnd int64, fileHash uint64) error {
	if _, err := f.WriteAt(appendFooter(nil, dataEnd, fileHash), dataEnd); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Truncate(dataEnd + footerSize); err != nil {
		return err
	}
	return f.Sync()
}

// Sync makes every written frame durable (fdatasync of the active
// segment). The engine's commit-token holder; it does not block
// Write while the fsync runs. A failed sync is sticky.
func (l *Log) Sync() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	if l.failed != nil {
		err := l.failed
		l.mu.Unlock()
		return err
	}
	if !l.dirty {
		l.mu.Unlock()
		return nil
	}
	s := l.active
	l.dirty = false
	l.mu.Unlock()
	if err := s.f.Sync(); err != nil {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.failed == nil {
			l.failed = fmt.Errorf("segment: %w", fileErr("sync", s.path, err))
		}
		return l.failed
	}
	return nil
}

var zeros = make([]byte, 1<<20)

// zeroRange overwrites [from, to) of f with zeros.
func zeroRange(f vfs.File, from, to int64) error { return fillRange(f, zeros, from, to) }
