package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"eventd/segment"
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
	head := s.Head()
	page := Page{Head: head}
	if limit <= 0 {
		return page, nil
	}
	st, ok := s.ix.Stream(streamID)
	if !ok {
		return page, nil
	}
	pos := visible(st.Positions, head)
	ver := uint64(len(pos))
	var sel []uint64
	if dir == Forward {
		if from >= ver {
			return page, nil
		}
		end := min(from+uint64(limit), ver)
		sel = pos[from:end]
		if end < ver {
			page.Next = end
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
		sel = pos[start:top]
		if start > 0 {
			page.Next = start + 1
		}
	}
	evs, err := s.readPositions(sel)
	if err != nil {
		return Page{}, err
	}
	if dir == Backward {
		slices.Reverse(evs)
	}
	page.Events = evs
	return page, nil
}

// ReadAll reads up to limit events of the global log matching f. Forward:
// positions > from. Backward: positions < from (0: from the head). With a
// filter, one call examines at most scanBudget events; Next then says where
// to go on even if the page is short.
func (s *Store) ReadAll(from uint64, dir Direction, limit int, f Filter) (Page, error) {
	head := s.Head()
	page := Page{Head: head}
	if limit <= 0 {
		return page, nil
	}
	m := newMatcher(f)
	var locs []uint64
	var last uint64 // last position examined
	budget := scanBudget
	if dir == Forward {
		for p := from + 1; p <= head && len(page.Events) < limit && budget > 0; {
			n := int(min(head-p+1, scanChunk))
			if m.all {
				n = min(n, limit-len(page.Events))
			}
			locs = s.ix.LocateRange(p, n, locs[:0])
			if len(locs) != n {
				return Page{}, fmt.Errorf("engine: index has no location for position %d", p+uint64(len(locs)))
			}
			err := s.scan(locs, p, func(rec *segment.Record) bool {
				last = rec.Position
				budget--
				if m.match(rec) {
					page.Events = append(page.Events, toEvent(rec))
				}
				return len(page.Events) < limit && budget > 0
			})
			if err != nil {
				return Page{}, err
			}
			p += uint64(n)
		}
		if last != 0 && last < head && (len(page.Events) == limit || budget == 0) {
			page.Next = last
		}
		return page, nil
	}

	hi := head
	if from != 0 && from-1 < head {
		hi = from - 1
	}
	for hi >= 1 && len(page.Events) < limit && budget > 0 {
		n := min(hi, scanChunk)
		if m.all {
			n = min(n, uint64(limit-len(page.Events)))
		}
		lo := hi - n + 1
		locs = s.ix.LocateRange(lo, int(n), locs[:0])
		if uint64(len(locs)) != n {
			return Page{}, fmt.Errorf("engine: index has no location for position %d", lo+uint64(len(locs)))
		}
		var chunk []Event
		err := s.scan(locs, lo, func(rec *segment.Record) bool {
			chunk = append(chunk, toEvent(rec))
			return true
		})
		if err != nil {
			return Page{}, err
		}
		for i := len(chunk) - 1; i >= 0 && len(page.Events) < limit && budget > 0; i-- {
			last = chunk[i].Position
			budget--
			if m.matchEvent(&chunk[i]) {
				page.Events = append(page.Events, chunk[i])
			}
		}
		hi = lo - 1
	}
	if last > 1 && (len(page.Events) == limit || budget == 0) {
		page.Next = last
	}
	return page, nil
}

// readPositions reads the events at the given positions, in that order.
func (s *Store) readPositions(pos []uint64) ([]Event, error) {
	evs := make([]Event, 0, len(pos))
	err := s.scanPositions(pos, func(rec *segment.Record) bool {
		evs = append(evs, toEvent(rec))
		return true
	})
	return evs, err
}

// scanPositions calls fn with the record at each position, in order, until
// fn returns false.
func (s *Store) scanPositions(pos []uint64, fn func(*segment.Record) bool) error {
	locs := make([]uint64, len(pos))
	for i, p := range pos {
		l, ok := s.ix.Locate(p)
		if !ok {
			return fmt.Errorf("engine: index has no location for position %d", p)
		}
		locs[i] = l
	}
	return s.scanLocs(locs, pos, 0, fn)
}

// scan is scanPositions for the consecutive positions first, first+1, …
func (s *Store) scan(locs []uint64, first uint64, fn func(*segment.Record) bool) error {
	return s.scanLocs(locs, nil, first, fn)
}

// scanLocs decodes the records at locs and calls fn with each, in order,
// until fn returns false. The position of record i must be pos[i] (or
// first+i when pos is nil): anything else is corruption. Records near each
// other in one segment are read with one pread; every record's checksum is
// verified. Records passed to fn alias a fresh buffer, so events made from
// them stay valid.
func (s *Store) scanLocs(locs, pos []uint64, first uint64, fn func(*segment.Record) bool) error {
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
		buf := make([]byte, hi-lo+readSlack)
		n, err := s.log.ReadAt(seg, buf, lo)
		if err != nil && !errors.Is(err, io.EOF) {
			return s.readFailed(fmt.Errorf("engine: reading segment %d at %d: %w", seg, lo, err))
		}
		buf = buf[:n]
		for k := i; k < j; k++ {
			want := first + uint64(k)
			if pos != nil {
				want = pos[k]
			}
			rec, err := s.decodeAt(buf, locs[k], lo)
			if err != nil {
				return s.readFailed(err)
			}
			if rec.Position != want {
				return s.readFailed(&segment.CorruptionError{
					File: s.segmentPath(seg), Offset: segment.LocOffset(locs[k]),
					Err: fmt.Errorf("%w: record holds position %d, the index says %d", segment.ErrCorrupt, rec.Position, want),
				})
			}
			if !fn(&rec) {
				return nil
			}
		}
		i = j
	}
	return nil
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

func (m *matcher) matchEvent(e *Event) bool { return m.test(e.StreamID, e.Type) }

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
