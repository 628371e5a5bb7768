package segment

import (
	"bytes"
	"fmt"
	"io"
)

// When the file system is full.
//
// A frame that finds no room (WriteAt fails with ENOSPC or EDQUOT) was
// never fsynced, so nothing of it was acknowledged: the log may take it
// back and go on later, without a restart. What it takes back, and why
// that is safe:
//
//   - The write may have put a prefix of the frame (n bytes, or any bytes
//     the file system kept) at [writeOff, writeOff+len). unwriteLocked
//     zeroes that range in a segment that was zero-filled beforehand (its
//     size stays: the space was allocated already, so zeroing needs none),
//     and cuts any other segment back to writeOff (nothing of the log lies
//     at or after writeOff; a cut needs no space). If zeroing fails too (a
//     copy-on-write file system), the segment is cut instead. If that
//     fails as well, the error is sticky: the log cannot prove what is on
//     disk.
//   - Neither is synced. It need not be: until the next successful fsync of
//     the segment (which flushes the zeros or the cut with the next frame),
//     what a crash leaves after writeOff is a torn tail that Open cuts.
//   - writeOff, the digest, end, LastPosition and dirty only move after a
//     write succeeds, so the next Write goes to the same offset with the
//     same positions: positions stay gap-free and readers (who see nothing
//     past the engine's visible head, below writeOff) never see the frame.
//
// Probe then checks for room: it writes a block as large as the frame that
// failed (with a header and footer; at least 64 KiB, at most 16 MiB) past
// the end of the active segment's file, fsyncs it, and cuts the file back
// to its old size (the same as zeroing it again: the bytes past the old
// end are gone; a crash in between leaves a block after the frames that
// Open cuts as a torn tail: its first bytes, 0xA5…, are no valid frame
// length). Only when that write and fsync succeed is there room; a probe
// that finds none changes nothing. A failed fsync is sticky, like every
// fsync of the log. Segments are created in the same file system, but a
// probe does not prove a file can be created: if a roll then fails, the
// engine fails that batch and goes on probing.

// Probe sizes.
const (
	minProbe = 64 << 10
	maxProbe = 16 << 20
)

// probeFill is what a probe writes: bytes that never start a valid frame.
var probeFill = bytes.Repeat([]byte{0xA5}, 64<<10)

// unwriteLocked takes back a frame write that failed at l.writeOff in s
// after n of its frameLen bytes (see above). It returns the write error
// marked notWritten when the file system was full and the range is clean
// again; anything else is for a sticky failure.
func (l *Log) unwriteLocked(s *segment, n, frameLen int, werr error) error {
	err := fileErr("write", s.path, werr)
	if !NoSpace(werr) {
		return err
	}
	if cerr := l.cutTailLocked(s, l.writeOff, int64(max(n, frameLen))); cerr != nil {
		return fmt.Errorf("%w; then taking back what it wrote failed: %w", err, cerr)
	}
	return &notWritten{err}
}

// cutTailLocked makes [off, off+n) of the active segment s read as the end
// of the log again: zeroed in a zero-filled segment (and the file cut back
// to the segment size if the write grew it), else the file cut at off.
func (l *Log) cutTailLocked(s *segment, off, n int64) error {
	size, err := s.f.Size()
	if err != nil {
		return fileErr("stat", s.path, err)
	}
	if s.filled {
		keep := max(l.opts.SegmentSize, off)
		if zerr := zeroRange(s.f, off, min(off+n, size, keep)); zerr == nil {
			if size > keep {
				if err := s.f.Truncate(keep); err != nil {
					return fileErr("truncate", s.path, err)
				}
			}
			return nil
		}
		s.filled = false // no room even to zero: cut the file instead
	}
	if err := s.f.Truncate(off); err != nil {
		return fileErr("truncate", s.path, err)
	}
	return nil
}

// Probe tells whether a Write that found no room (an ErrNotWritten for
// which NoSpace holds) would fit now: nil when a probe block past the end
// of the active segment was written and fsynced (and cut off again). An
// error wrapping ErrNotWritten: still no room, nothing changed. Any other
// error is sticky (a failed fsync, or a file that could not be cut back).
// The engine's commit-token holder only. See the comment at the top of this file.
func (l *Log) Probe() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.closed:
		return ErrClosed
	case l.failed != nil:
		return l.failed
	}
	s := l.active
	size, err := s.f.Size()
	if err != nil {
		return fmt.Errorf("%w: probe: %w", ErrNotWritten, fileErr("stat", s.path, err))
	}
	n := min(max(l.probeSize, minProbe), maxProbe)
	werr := fillRange(s.f, probeFill, size, size+n)
	if werr == nil {
		if err := s.f.Sync(); err != nil {
			l.failed = fmt.Errorf("segment: probe: %w", fileErr("sync", s.path, err))
			return l.failed
		}
	}
	if err := s.f.Truncate(size); err != nil {
		l.failed = fmt.Errorf("segment: probe: %w", fileErr("truncate", s.path, err))
		return l.failed
	}
	if werr != nil {
		werr = fileErr("write", s.path, werr)
		if !NoSpace(werr) {
			l.failed = fmt.Errorf("segment: probe: %w", werr)
			return l.failed
		}
		return fmt.Errorf("%w: probe: %w", ErrNotWritten, werr)
	}
	return nil
}

// fillRange overwrites [from, to) of f with copies of fill.
func fillRange(f io.WriterAt, fill []byte, from, to int64) error {
	for off := from; off < to; {
		n := min(int64(len(fill)), to-off)
		if _, err := f.WriteAt(fill[:n], off); err != nil {
			return err
		}
		off += n
	}
	return nil
}
