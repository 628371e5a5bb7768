package engine

import (
	"fmt"
	"strings"
	"time"

	"github.com/eventd/eventd/index"
	"github.com/eventd/eventd/segment"
)

// The decision step of the writer: for each request of a batch, in queue
// order, check its client event ids (idempotency) and its expected version
// against the index plus the batch's earlier requests, then assign versions
// and positions and encode the events into the frame. It is a pure function
// of the queue, the index, the dedupe table and the batch's timestamp: no
// clock, no randomness (DESIGN "Scale past one machine").

// prepare validates one request against the index and the batch so far and,
// if it is accepted, encodes its events into the frame.
func (w *writer) prepare(r *appendReq, next *uint64, ts int64) {
	if r.multi {
		w.prepareMulti(r, next, ts)
		return
	}
	cur := w.version(r.streamID)
	if r.gen == nil || hasClientID(r) {
		if dup, err := w.duplicate(r); err != nil {
			r.err = err
			return
		} else if dup {
			return
		}
	}
	if !expectedOK(r.expected, cur) {
		r.err = &WrongExpectedVersionError{StreamID: r.streamID, Expected: r.expected, Current: cur}
		return
	}
	w.encode(r, cur, next, ts)
}

// prepareMulti is prepare for an AppendMulti: every part is checked before
// any is encoded, so the request is written whole or not at all. A client
// event id already written to its stream refuses the whole request with
// ErrDuplicateEvent (multi-stream appends are not answered as duplicates).
func (w *writer) prepareMulti(r *appendReq, next *uint64, ts int64) {
	parts := append(make([]*appendReq, 0, 1+len(r.more)), r)
	parts = append(parts, r.more...)
	curs := make([]uint64, len(parts))
	for i, p := range parts {
		if p.gen == nil || hasClientID(p) {
			if dup, err := w.duplicate(p); err != nil || dup {
				p.res = AppendResult{}
				r.err = fmt.Errorf("%w: stream %q: client event ids were already written (a multi-stream append is never answered as a duplicate)", ErrDuplicateEvent, p.streamID)
				return
			}
		}
		curs[i] = w.version(p.streamID)
		if !expectedOK(p.expected, curs[i]) {
			r.err = &WrongExpectedVersionError{StreamID: p.streamID, Expected: p.expected, Current: curs[i]}
			return
		}
	}
	for i, p := range parts {
		w.encode(p, curs[i], next, ts)
	}
}

// version is the stream's version after the batch's earlier requests.
func (w *writer) version(stream string) uint64 {
	if cur, ok := w.pending[stream]; ok {
		return cur
	}
	return w.s.ix.Version(stream)
}

// encode assigns versions from cur+1 and positions from *next to r's
// events, adds them to the frame and sets r.res.
func (w *writer) encode(r *appendReq, cur uint64, next *uint64, ts int64) {
	n := uint64(len(r.events))
	r.res = AppendResult{
		StreamID:      r.streamID,
		FirstVersion:  cur + 1,
		LastVersion:   cur + n,
		FirstPosition: *next,
		LastPosition:  *next + n - 1,
		Timestamp:     time.Unix(0, ts).UTC(),
		Events:        make([]Appended, n),
	}
	for i := range r.events {
		e := &r.events[i]
		rec := segment.Record{
			Position:      *next + uint64(i),
			Version:       cur + 1 + uint64(i),
			Timestamp:     ts,
			SchemaVersion: max(e.SchemaVersion, 1),
			AppendIndex:   uint32(i),
			AppendLen:     uint32(n),
			StreamID:      r.streamID,
			EventID:       e.ID,
			Type:          e.Type,
			Metadata:      e.Metadata,
			Data:          e.Data,
		}
		client := r.gen == nil || !r.gen[i]
		if client {
			rec.Flags |= segment.FlagClientID
			key := w.key(r.streamID, e.ID)
			w.batchIDs[key] = idRef{req: r, idx: i}
			w.newKeys = append(w.newKeys, ddEntry{key: key, pos: rec.Position, ts: ts})
		}
		w.rels = append(w.rels, w.b.Add(&rec))
		w.entries = append(w.entries, index.Entry{Pos: rec.Position, StreamID: r.streamID, Timestamp: ts})
		w.types = append(w.types, e.Type)
		r.res.Events[i] = Appended{ID: e.ID, Type: e.Type, Version: rec.Version, Position: rec.Position}
	}
	w.pending[r.streamID] = cur + n
	*next += n
}

func hasClientID(r *appendReq) bool {
	for _, g := range r.gen {
		if !g {
			return true
		}
	}
	return false
}

func expectedOK(exp ExpectedVersion, cur uint64) bool {
	switch {
	case exp == Any:
		return true
	case exp == NoStream || exp == 0:
		return cur == 0
	case exp == StreamExists:
		return cur > 0
	case exp > 0:
		return uint64(exp) == cur
	}
	return false
}

func (w *writer) key(stream, id string) uint64 {
	w.keyBuf = dedupeKeyBytes(w.keyBuf[:0], stream, id)
	return hashKey(w.keyBuf)
}

// duplicate checks r's client event ids. It reports dup=true (with r.res
// set to the earlier append's result, Duplicate=true) when all of them were
// written to the stream by one earlier append, ErrDuplicateEvent when only
// some were, and (false, nil) when none was.
func (w *writer) duplicate(r *appendReq) (dup bool, err error) {
	found, inBatch, sameRef := 0, 0, true
	var ref *appendReq // the earlier request, when found in this batch
	var pos []uint64   // positions of hash hits in the dedupe table
	var idx []int      // … and the events they are for
	for i := range r.events {
		if r.gen != nil && r.gen[i] {
			continue
		}
		k := w.key(r.streamID, r.events[i].ID)
		if br, ok := w.batchIDs[k]; ok && br.req.events[br.idx].ID == r.events[i].ID {
			found++
			inBatch++
			if br.idx != i || (ref != nil && ref != br.req) {
				sameRef = false
			}
			ref = br.req
			continue
		}
		if p, ok := w.dd.get(k); ok {
			pos = append(pos, p)
			idx = append(idx, i)
		}
	}
	// A hash hit is only a candidate: read the event back and compare, so
	// a collision can neither suppress a new event nor refuse it.
	var recs []verified
	if len(pos) > 0 {
		if recs, err = w.verifyHits(r, pos, idx); err != nil {
			return false, err
		}
		found += len(recs)
	}
	switch {
	case found == 0:
		return false, nil
	case found < len(r.events):
		return false, ErrDuplicateEvent
	case inBatch == found && sameRef && len(ref.events) == len(r.events):
		// The answer is the earlier append's, but built from this request's
		// own strings: a result never aliases another caller's memory.
		r.res = ref.res
		r.res.Events = make([]Appended, len(ref.res.Events))
		for i, e := range ref.res.Events {
			r.res.Events[i] = Appended{ID: r.events[i].ID, Type: strings.Clone(e.Type), Version: e.Version, Position: e.Position}
		}
		r.res.Duplicate = true
		return true, nil
	case inBatch == 0:
		if res, ok := earlierAppend(r, recs); ok {
			r.res = res
			return true, nil
		}
	}
	return false, ErrDuplicateEvent
}

// verified is an event of the log whose id matched one of r's.
type verified struct {
	idx                    int // the event of r it matches
	pos, version           uint64
	ts                     int64
	typ                    string
	appendIndex, appendLen uint32
}

// verifyHits reads the events at pos and keeps those that really are
// r.events[idx[i]] of r's stream.
func (w *writer) verifyHits(r *appendReq, pos []uint64, idx []int) ([]verified, error) {
	out := make([]verified, 0, len(pos))
	i := 0
	err := w.s.scanPositions(pos, true, func(rec *segment.Record) bool {
		if rec.StreamID == r.streamID && rec.EventID == r.events[idx[i]].ID {
			out = append(out, verified{idx: idx[i], pos: rec.Position, version: rec.Version, ts: rec.Timestamp,
				typ: strings.Clone(rec.Type), appendIndex: rec.AppendIndex, appendLen: rec.AppendLen})
		}
		i++
		return true
	})
	if err != nil {
		// A damaged record cannot prove anything: refuse rather than guess.
		return nil, fmt.Errorf("%w: checking event ids against the log: %v", ErrDuplicateEvent, err)
	}
	return out, nil
}

// earlierAppend reports whether the verified events (one per event of r,
// in r's order) are exactly one earlier append — consecutive positions,
// each carrying its place in an append of r's length — and returns that
// append's result.
func earlierAppend(r *appendReq, recs []verified) (AppendResult, bool) {
	n := len(recs)
	if n != len(r.events) {
		return AppendResult{}, false
	}
	res := AppendResult{
		StreamID:      r.streamID,
		FirstVersion:  recs[0].version,
		LastVersion:   recs[n-1].version,
		FirstPosition: recs[0].pos,
		LastPosition:  recs[n-1].pos,
		Timestamp:     time.Unix(0, recs[0].ts).UTC(),
		Events:        make([]Appended, n),
		Duplicate:     true,
	}
	for i, v := range recs {
		if v.idx != i || v.pos != recs[0].pos+uint64(i) || v.appendIndex != uint32(i) || v.appendLen != uint32(n) {
			return AppendResult{}, false
		}
		res.Events[i] = Appended{ID: r.events[i].ID, Type: v.typ, Version: v.version, Position: v.pos}
	}
	return res, true
}
