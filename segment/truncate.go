package segment

import (
	"fmt"
	"sort"

	"github.com/cespare/xxhash/v2"
)

// TruncateAfter cuts the log after position pos, which must end a frame (or
// be 0, or the position before a segment's first): later frames are zeroed,
// later segments removed, everything synced. The engine's commit-token holder only; no
// reader may be reading past pos.
//
// Only tests call it today: Open cuts a torn tail by itself, and the
// engine's recovery is segment.Open followed by Replay; nothing in the
// engine truncates. It is kept for replication (a future raft follower
// truncating a divergent suffix), like the index's TruncateAfter.
func (l *Log) TruncateAfter(pos uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.closed:
		return ErrClosed
	case l.failed != nil:
		return l.failed
	case pos >= l.lastPos.Load():
		return nil
	}
	l.sealWG.Wait()
	segs := l.state.Load().segs
	t := max(sort.Search(len(segs), func(i int) bool { return segs[i].firstPos > pos })-1, 0)
	s := segs[t]
	cut, d, err := frameBoundary(s, pos)
	if err != nil {
		return err
	}
	for j := len(segs) - 1; j > t; j-- {
		segs[j].f.Close()
		if err := l.fs.Remove(segs[j].path); err != nil {
			l.failed = err
			return err
		}
	}
	if t < len(segs)-1 {
		if err := l.syncDir(); err != nil {
			l.failed = err
			return err
		}
	}
	if err := l.cutSegment(s, cut); err != nil {
		l.failed = err
		return err
	}
	l.state.Store(&logState{segs: append([]*segment(nil), segs[:t+1]...)})
	l.active = s
	l.writeOff = cut
	l.digest = *d
	l.dirty = false
	l.lastPos.Store(pos)
	return nil
}

// cutSegment makes cut the end of s on disk: a sealed file is truncated
// there (footer gone); an active one has [cut, old end + footer) zeroed.
func (l *Log) cutSegment(s *segment, cut int64) error {
	if s.sealed.Load() {
		if err := s.f.Truncate(cut); err != nil {
			return err
		}
	} else {
		size, err := s.f.Size()
		if err != nil {
			return err
		}
		if err := zeroRange(s.f, cut, min(size, s.end.Load()+footerSize)); err != nil {
			return err
		}
	}
	if err := s.f.Sync(); err != nil {
		return err
	}
	s.sealed.Store(false)
	s.end.Store(cut)
	return nil
}

// frameBoundary finds the offset in s just after the frame that ends at
// pos, and the digest of the file up to there.
func frameBoundary(s *segment, pos uint64) (int64, *xxhash.Digest, error) {
	rd := &seqReader{buf: make([]byte, 1<<20)}
	end := s.end.Load()
	rd.reset(s.f, end)
	d := xxhash.New()
	hb, err := rd.peek(0, segHeaderSize)
	if err != nil {
		return 0, nil, err
	}
	d.Write(hb)
	off := int64(segHeaderSize)
	last := s.firstPos - 1
	for last < pos && off < end {
		fb, err := rd.peek(off, frameHeaderSize)
		if err != nil {
			return 0, nil, err
		}
		h, err := parseDataFrameHeader(fb)
		if err == nil {
			if fb, err = rd.peek(off, int(h.size())); err != nil {
				return 0, nil, err
			}
			_, _, err = decodeFrame(fb)
		}
		if err != nil {
			return 0, nil, &CorruptionError{File: s.path, Offset: off, Err: err}
		}
		d.Write(fb)
		off += h.size()
		last = h.lastPos()
	}
	if last != pos {
		return 0, nil, fmt.Errorf("segment: cannot truncate after position %d: not the end of a frame", pos)
	}
	return off, d, nil
}
