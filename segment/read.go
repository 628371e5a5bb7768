package segment

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/cespare/xxhash/v2"
)

// ReadAt reads from segment seg at off, up to the end of its frames (io.EOF
// past it). Any goroutine; it never takes the writer's lock.
func (l *Log) ReadAt(seg uint32, p []byte, off int64) (int, error) {
	st := l.state.Load()
	if int(seg) >= len(st.segs) {
		return 0, fmt.Errorf("%w: segment %d of %d", ErrOutOfRange, seg, len(st.segs))
	}
	s := st.segs[seg]
	end := s.end.Load()
	if off < 0 {
		return 0, fmt.Errorf("%w: offset %d", ErrOutOfRange, off)
	}
	if off >= end {
		return 0, io.EOF
	}
	short := false
	if int64(len(p)) > end-off {
		p, short = p[:end-off], true
	}
	n, err := s.f.ReadAt(p, off)
	if err == nil && short {
		err = io.EOF
	} else if err != nil && err != io.EOF {
		err = fileErr("read", s.path, err)
	}
	return n, err
}

// readAhead is how much ReadRecord reads first: most records fit.
const readAhead = 512

// ReadRecord reads and verifies the record at loc. It returns the record,
// which aliases the returned buffer (buf, grown if needed: pass it back in
// for reuse, and do not reuse it while the record is in use). A damaged
// record gives a *CorruptionError; nothing unverified is ever returned. Any
// goroutine.
func (l *Log) ReadRecord(loc Loc, buf []byte) (Record, []byte, error) {
	st := l.state.Load()
	seg, off := LocSegment(loc), LocOffset(loc)
	if int(seg) >= len(st.segs) {
		return Record{}, buf, fmt.Errorf("%w: segment %d of %d", ErrOutOfRange, seg, len(st.segs))
	}
	s := st.segs[seg]
	end := s.end.Load()
	if off < segHeaderSize || off+recordHeaderSize > end {
		return Record{}, buf, fmt.Errorf("%w: offset %d in %s (data ends at %d)", ErrOutOfRange, off, s.path, end)
	}
	if cap(buf) < readAhead {
		buf = make([]byte, readAhead)
	}
	buf = buf[:min(int64(readAhead), end-off)]
	if _, err := s.f.ReadAt(buf, off); err != nil && err != io.EOF {
		return Record{}, buf, fileErr("read", s.path, err)
	}
	corrupt := func(err error) (Record, []byte, error) {
		return Record{}, buf, &CorruptionError{File: s.path, Offset: off, Err: err}
	}
	plen := binary.LittleEndian.Uint32(buf)
	if plen > MaxRecordSize {
		return corrupt(corruptf("record length %d over limit", plen))
	}
	total := int64(recordHeaderSize) + int64(plen)
	if off+total > end {
		return corrupt(corruptf("record length %d runs past the data end %d", plen, end))
	}
	if total > int64(len(buf)) {
		have := len(buf)
		if int64(cap(buf)) < total {
			nb := make([]byte, total)
			copy(nb, buf)
			buf = nb
		}
		buf = buf[:total]
		if _, err := s.f.ReadAt(buf[have:], off+int64(have)); err != nil && err != io.EOF {
			return Record{}, buf, fileErr("read", s.path, err)
		}
	}
	r, _, err := decodeRecord(buf[:total], true)
	if err != nil {
		return corrupt(err)
	}
	return r, buf, nil
}

// Replay calls fn for every record with Position > after, in order, with
// its Loc. It finds the segment by first position, hops frame headers to
// the frame holding after+1 and then reads sequentially in large chunks,
// verifying each frame's checksum.
//
// The *Record and everything it points to (strings included) alias an
// internal buffer and are valid only during the call: copy what you keep
// (strings.Clone). An error from fn stops Replay and is returned.
func (l *Log) Replay(after uint64, fn func(r *Record, loc Loc) error) error {
	segs := l.state.Load().segs
	i := max(sort.Search(len(segs), func(i int) bool { return segs[i].firstPos > after+1 })-1, 0)
	rd := &seqReader{}
	rec := new(Record) // one for the whole replay: no allocation per record
	next := uint64(0)
	if i < len(segs) {
		next = segs[i].firstPos
	}
	for ; i < len(segs); i++ {
		s := segs[i]
		// Segments must follow on from each other: a missing or
		// overlapping file is corruption, not a gap to paper over.
		if s.firstPos != next {
			return &CorruptionError{File: s.path, Offset: 0,
				Err: corruptf("segment starts at position %d, want %d (a segment is missing or overlaps)", s.firstPos, next)}
		}
		end := s.end.Load()
		rd.reset(s.f, end)
		off := int64(segHeaderSize)
		for off < end {
			hb, err := rd.peek(off, frameHeaderSize)
			if err != nil {
				return err
			}
			h, err := parseDataFrameHeader(hb)
			if err == nil && h.FirstPos != next {
				err = corruptf("frame starts at position %d, want %d", h.FirstPos, next)
			}
			if err == nil && off+h.size() > end {
				err = errTruncated
			}
			if err != nil {
				return &CorruptionError{File: s.path, Offset: off, Err: err}
			}
			if h.lastPos() > after {
				fb, err := rd.peek(off, int(h.size()))
				if err != nil {
					return err
				}
				_, body, err := decodeFrame(fb)
				if err != nil {
					return &CorruptionError{File: s.path, Offset: off, Err: err}
				}
				if err := replayFrame(s, i, off, h, body, after, rec, fn); err != nil {
					return err
				}
			}
			off += h.size()
			next += uint64(h.Count)
		}
	}
	return nil
}

// replayFrame decodes the records of one verified frame for Replay.
func replayFrame(s *segment, seg int, off int64, h frameHeader, body []byte, after uint64, r *Record, fn func(*Record, Loc) error) error {
	rel := 0
	for n := uint32(0); n < h.Count; n++ {
		var k int
		var err error
		*r, k, err = decodeRecord(body[rel:], false)
		if err == nil && r.Position != h.FirstPos+uint64(n) {
			err = corruptf("record position %d, want %d", r.Position, h.FirstPos+uint64(n))
		}
		if err != nil {
			return &CorruptionError{File: s.path, Offset: off + frameHeaderSize + int64(rel), Err: err}
		}
		if r.Position > after {
			if err := fn(r, MakeLoc(uint32(seg), off+frameHeaderSize+int64(rel))); err != nil {
				return err
			}
		}
		rel += k
	}
	if rel != len(body) {
		return &CorruptionError{File: s.path, Offset: off, Err: corruptf("frame has %d bytes after its %d records", len(body)-rel, h.Count)}
	}
	return nil
}

// Scrub checks every sealed segment against its footer (the whole-file
// hash). Damage is returned as *CorruptionError values joined with
// errors.Join (errors.As finds the first), each naming the bad frame when
// one can be found, else the footer. Any goroutine; stops early when ctx
// ends.
func (l *Log) Scrub(ctx context.Context) error {
	segs := l.state.Load().segs
	rd := &seqReader{buf: make([]byte, 1<<20)}
	var errs []error
	for _, s := range segs {
		if err := ctx.Err(); err != nil {
			return errors.Join(append(errs, err)...)
		}
		if !s.sealed.Load() {
			continue
		}
		if err := checkSealed(ctx, rd, s); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// checkSealed verifies a sealed segment's header, footer and whole-file
// hash; on a mismatch it scans the frames to name the bad one.
func checkSealed(ctx context.Context, rd *seqReader, s *segment) error {
	size, err := s.f.Size()
	if err != nil {
		return fileErr("stat", s.path, err)
	}
	rd.reset(s.f, size)
	if err := checkHeader(s); err != nil {
		return err
	}
	ft, err := readFooter(s.f, size)
	if err != nil {
		return &CorruptionError{File: s.path, Offset: max(size-footerSize, 0), Err: err}
	}
	d := xxhash.New()
	for off := int64(0); off < ft.DataEnd; {
		if err := ctx.Err(); err != nil {
			return err
		}
		b, err := rd.peek(off, int(min(int64(len(rd.buf)), ft.DataEnd-off)))
		if err != nil {
			return err
		}
		if len(b) == 0 {
			break
		}
		d.Write(b)
		off += int64(len(b))
	}
	if d.Sum64() == ft.FileHash {
		return nil
	}
	res, err := scanSegment(rd, ft.DataEnd, s.firstPos, true, nil)
	if err != nil {
		return err
	}
	if res.stop == stopBad || res.end != ft.DataEnd {
		cause := res.err
		if cause == nil {
			cause = corruptf("frames end at %d, footer says %d", res.end, ft.DataEnd)
		}
		return &CorruptionError{File: s.path, Offset: res.end, Err: cause}
	}
	return &CorruptionError{File: s.path, Offset: ft.DataEnd, Err: corruptf("whole-file checksum mismatch")}
}
