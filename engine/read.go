package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/eventd/eventd/segment"
)

const (
	// readSpan bounds one pread of a sequential read: locations of one
	// segment within this many bytes are read together.
	readSpan = 1 << 20
	// readSlack is read past the last record's start, so that it is
	// usually whole in the buffer; a longer record is read on its own.
	readSlack = 4 << 10
	// scanChunk is how many positions a filtered $all read locates at once.
	scanChunk = 1024
	// scanBudget bounds the events one filtered $all read examines; past it
	// the page ends early and Next says where to go on.
	scanBudget = 1 << 20
	// recordHeader is a record's length and checksum (docs/format.md).
	recordHeader = 12
)

// ReadStream reads up to limit events of a stream. Forward: versions >
// from, oldest first. Backward: versions < from, newest first (from 0 means
// from the end). A stream that does not exist gives an empty page.
func (s *Store) ReadStream(streamID string, from uint64, dir Direction, limit int) (Page, error) {
	var evs []Event
	next, head, err := s.readStream(streamID, from, dir, limit, readOpts{}, func(e *Event) error {
		evs = append(evs, *e)
		return nil
	})
	if err != nil {
		return Page{}, err
	}
	return Page{Events: evs, Next: next, Head: head}, nil
}

// ReadStreamFunc is ReadStream without the slice: fn is called with each
// event in reading order and must not keep the event, or anything it
// points to, after it returns (the read buffers are reused). An error from
// fn ends the read and is returned. next and head are Page.Next and Page.Head.
func (s *Store) ReadStreamFunc(streamID string, from uint64, dir Direction, limit int, fn func(*Event) error) (next, head uint64, err error) {
	return s.readStream(streamID, from, dir, limit, readOpts{pooled: true}, fn)
}

// readOpts say how a read hands out events: pooled (buffers reused after
// the callback) and stored (as stored, not upcast).
type readOpts struct{ pooled, stored bool }

func (s *Store) readStream(streamID string, from uint64, dir Direction, limit int, o readOpts, fn func(*Event) error) (next, head uint64, err error) {
	head = s.Head()
	if limit <= 0 {
		return 0, head, nil
	}
	st, ok := s.ix.Stream(streamID)
	if !ok {
		return 0, head, nil
	}
	pos := visible(st.Positions, head)
	ver := uint64(len(pos))
	var sel []uint64
	if dir == Forward {
		if from >= ver {
			return 0, head, nil
		}
		end := min(from+uint64(limit), ver)
		sel = pos[from:end]
		if end < ver {
			next = end
		}
	} else {
		top := ver // versions < from, i.e. indexes < from-1
		if from != 0 && from-1 < ver {
			top = from - 1
		}
		start := uint64(0)
		if top > uint64(limit) {
			start = top - uint64(limit)
		}
		sel = slices.Clone(pos[start:top])
		slices.Reverse(sel) // newest first; scanLocs takes any order
		if start > 0 {
			next = start + 1
		}
	}
	var e Event // one for the whole read: fn must not keep it
	var ferr error
	up := s.readUpcaster(o.stored, o.pooled)
	err = s.scanPositions(sel, o.pooled, func(rec *segment.Record) bool {
		e = toEvent(rec)
		if ferr = up.apply(&e); ferr == nil {
			ferr = fn(&e)
		}
		return ferr == nil
	})
	if err == nil {
		err = ferr
	}
	if err != nil {
		return 0, 0, err
	}
	return next, head, nil
}

// ReadAll reads up to limit events of the global log matching f. Forward:
// positions > from. Backward: positions < from (0: from the head). With a
// filter, one call examines at most scanBudget events; Next then says where
// to go on even if the page is short (or empty).
func (s *Store) ReadAll(from uint64, dir Direction, limit int, f Filter) (Page, error) {
	var evs []Event
	next, head, err := s.readAll(from, dir, limit, f, readOpts{}, func(e *Event) error {
		evs = append(evs, *e)
		return nil
	})
	if err != nil {
		return Page{}, err
	}
	return Page{Events: evs, Next: next, Head: head}, nil
}

// ReadAllFunc is ReadAll without the slice: fn is called with each matching
// event in reading order and must not keep the event, or anything it points
// to, after it returns (the read buffers are reused). An error from fn ends
// the read and is returned. next and head are Page.Next and Page.Head.
func (s *Store) ReadAllFunc(from uint64, dir Direction, limit int, f Filter, fn func(*Event) error) (next, head uint64, err error) {
	return s.readAll(from, dir, limit, f, readOpts{pooled: true}, fn)
}

func (s *Store) readAll(from uint64, dir Direction, limit int, f Filter, o readOpts, fn func(*Event) error) (next, head uint64, err error) {
	head = s.Head()
	if limit <= 0 {
		return 0, head, nil
	}
	m := newMatcher(f)
	var locs []uint64
	var last uint64 // last position examined
	budget, n := scanBudget, 0
	var e Event // one for the whole read: fn must not keep it
	up := s.readUpcaster(o.stored, o.pooled)
	pooled := o.pooled
	emit := func(rec *segment.Record) bool {
		last = rec.Position
		budget--
		if m.match(rec) {
			e = toEvent(rec)
			if err = up.apply(&e); err != nil {
				return false
			}
			if err = fn(&e); err != nil {
				return false
			}
			n++
		}
		return n < limit && budget > 0
	}
	if dir == Forward {
		if from >= head {
			return 0, head, nil // nothing after it (and from+1 must not wrap)
		}
		for p := from + 1; p <= head && n < limit && budget > 0 && err == nil; {
			k := int(min(head-p+1, scanChunk))
			if m.all {
				k = min(k, limit-n)
			}
			locs = s.ix.LocateRange(p, k, locs[:0])
			if len(locs) != k {
				return 0, 0, fmt.Errorf("engine: index has no location for position %d", p+uint64(len(locs)))
			}
			if serr := s.scanLocs(locs, nil, p, pooled, emit); serr != nil {
				return 0, 0, serr
			}
			p += uint64(k)
		}
		if err != nil {
			return 0, 0, err
		}
		if last != 0 && last < head && (n == limit || budget == 0) {
			next = last
		}
		return next, head, nil
	}

	hi := head
	if from != 0 && from-1 < head {
		hi = from - 1
	}
	pos := make([]uint64, 0, scanChunk)
	for hi >= 1 && n < limit && budget > 0 && err == nil {
		k := min(hi, scanChunk)
		if m.all {
			k = min(k, uint64(limit-n))
		}
		lo := hi - k + 1
		pos = pos[:0]
		for p := hi; p >= lo; p-- {
			pos = append(pos, p)
		}
		// One index lookup for the chunk, then newest first.
		locs = s.ix.LocateRange(lo, int(k), locs[:0])
		if uint64(len(locs)) != k {
			return 0, 0, fmt.Errorf("engine: index has no location for position %d", lo+uint64(len(locs)))
		}
		slices.Reverse(locs)
		if serr := s.scanLocs(locs, pos, 0, pooled, emit); serr != nil {
			return 0, 0, serr
		}
		hi = lo - 1
	}
	if err != nil {
		return 0, 0, err
	}
	if last > 1 && (n == limit || budget == 0) {
		next = last
	}
	return next, head, nil
}

// scanPositions calls fn with the record at each position, in the given
// order, until fn returns false.
func (s *Store) scanPositions(pos []uint64, pooled bool, fn func(*segment.Record) bool) error {
	locs := make([]uint64, len(pos))
	for i, p := range pos {
		l, ok := s.ix.Locate(p)
		if !ok {
			return fmt.Errorf("engine: index has no location for position %d", p)
		}
		locs[i] = l
	}
	return s.scanLocs(locs, pos, 0, pooled, fn)
}

// readBufs recycles read buffers for the pooled (callback) reads.
var readBufs = sync.Pool{New: func() any { return new([]byte) }}

// scanLocs decodes the records at locs and calls fn with each, in order,
// until fn returns false. The position of record i must be pos[i] (or
// first+i when pos is nil): anything else is corruption. Records near each
// other in one segment are read with one pread; every record's checksum is
// verified. Records passed to fn alias the read buffer: a fresh one, so
// events made from them stay valid, unless pooled, when the buffer is
// reused as soon as fn has seen the records in it.
func (s *Store) scanLocs(locs, pos []uint64, first uint64, pooled bool, fn func(*segment.Record) bool) error {
	for i := 0; i < len(locs); {
		seg := segment.LocSegment(locs[i])
		lo, hi := segment.LocOffset(locs[i]), segment.LocOffset(locs[i])
		j := i + 1
		for ; j < len(locs) && segment.LocSegment(locs[j]) == seg; j++ {
			o := segment.LocOffset(locs[j])
			nlo, nhi := min(lo, o), max(hi, o)
			if nhi-nlo > readSpan {
				break
			}
			lo, hi = nlo, nhi
		}
		var bp *[]byte
		var buf []byte
		if pooled {
			bp = readBufs.Get().(*[]byte)
			if int64(cap(*bp)) < hi-lo+readSlack {
				*bp = make([]byte, hi-lo+readSlack)
			}
			buf = (*bp)[:hi-lo+readSlack]
		} else {
			buf = make([]byte, hi-lo+readSlack)
		}
		done, err := s.scanGroup(buf, seg, lo, locs[i:j], pos, first+uint64(i), i, fn)
		if bp != nil {
			readBufs.Put(bp)
		}
		if err != nil || done {
			return err
		}
		i = j
	}
	return nil
}

// scanGroup reads one span of segment seg starting at lo into buf and
// calls fn with the records at locs (record k's position is pos[off+k], or
// first+k when pos is nil). done: fn asked to stop.
func (s *Store) scanGroup(buf []byte, seg uint32, lo int64, locs, pos []uint64, first uint64, off int, fn func(*segment.Record) bool) (done bool, err error) {
	{
		n, err := s.log.ReadAt(seg, buf, lo)
		if err != nil && !errors.Is(err, io.EOF) {
			return true, s.readFailed(fmt.Errorf("engine: reading segment %d at %d: %w", seg, lo, err))
		}
		buf = buf[:n]
	}
	var rec segment.Record // one per group: fn must not keep it
	for k := range locs {
		want := first + uint64(k)
		if pos != nil {
			want = pos[off+k]
		}
		rec, err = s.decodeAt(buf, locs[k], lo)
		if err != nil {
			return true, s.readFailed(err)
		}
		if rec.Position != want {
			return true, s.readFailed(&segment.CorruptionError{
				File: s.segmentPath(seg), Offset: segment.LocOffset(locs[k]),
				Err: fmt.Errorf("%w: record holds position %d, the index says %d", segment.ErrCorrupt, rec.Position, want),
			})
		}
		if !fn(&rec) {
			return true, nil
		}
	}
	return false, nil
}

// decodeAt decodes the record at loc from buf (which starts at offset base
// of loc's segment), or reads it on its own when buf does not hold all of it.
func (s *Store) decodeAt(buf []byte, loc uint64, base int64) (segment.Record, error) {
	o := segment.LocOffset(loc) - base
	if o+recordHeader <= int64(len(buf)) {
		if size := int64(binary.LittleEndian.Uint32(buf[o:])); o+recordHeader+size <= int64(len(buf)) {
			rec, _, err := segment.DecodeRecord(buf[o : o+recordHeader+size])
			if err != nil {
				return rec, &segment.CorruptionError{File: s.segmentPath(segment.LocSegment(loc)), Offset: segment.LocOffset(loc), Err: err}
			}
			return rec, nil
		}
	}
	rec, _, err := s.log.ReadRecord(loc, nil)
	return rec, err
}

// readFailed reports corruption found by a read (the store turns degraded)
// and returns the error for the caller.
func (s *Store) readFailed(err error) error {
	var ce *segment.CorruptionError
	if errors.As(err, &ce) {
		s.addProblem(err)
	}
	return err
}

func (s *Store) segmentPath(seg uint32) string {
	for _, si := range s.log.Segments() {
		if si.Ordinal == seg {
			return si.Path
		}
	}
	return fmt.Sprintf("segment %d", seg)
}

// toEvent turns a decoded record into an Event; both alias the read buffer.
func toEvent(r *segment.Record) Event {
	return Event{
		Position:      r.Position,
		StreamID:      r.StreamID,
		Version:       r.Version,
		ID:            r.EventID,
		Type:          r.Type,
		SchemaVersion: r.SchemaVersion,
		Timestamp:     time.Unix(0, r.Timestamp).UTC(),
		Metadata:      r.Metadata,
		Data:          r.Data,
	}
}

// matcher applies a Filter.
type matcher struct {
	f   Filter
	all bool // matches everything
}

func newMatcher(f Filter) matcher {
	return matcher{f: f, all: len(f.EventTypes) == 0 && f.StreamPrefix == "" && !f.ExcludeSystem}
}

func (m *matcher) match(r *segment.Record) bool { return m.test(r.StreamID, r.Type) }

func (m *matcher) test(stream, typ string) bool {
	if m.all {
		return true
	}
	if m.f.ExcludeSystem && strings.HasPrefix(stream, "$") {
		return false
	}
	if !strings.HasPrefix(stream, m.f.StreamPrefix) {
		return false
	}
	return len(m.f.EventTypes) == 0 || slices.Contains(m.f.EventTypes, typ)
}
