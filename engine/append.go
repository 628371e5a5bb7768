package engine

import (
	"context"
	"strconv"
	"sync"
)

// Append writes events to streamID atomically, after checking expected.
// It returns once the batch is durable per the fsync policy. ctx is only
// checked before the append is queued: once queued it is always answered
// (its caller may be handed the commit token meanwhile and must not leave:
// leader.go), so a cancelled append is either refused or done, never both.
// Errors: *WrongExpectedVersionError, ErrDuplicateEvent, *InputError
// (ErrInvalidStreamID, ErrInvalidEventType, ErrEventTooLarge,
// ErrInvalidEvent), *FailedError, ErrClosed, ctx.Err().
func (s *Store) Append(ctx context.Context, streamID string, expected ExpectedVersion, events []Proposed) (AppendResult, error) {
	if err := ctx.Err(); err != nil {
		return AppendResult{}, err
	}
	r := reqPool.Get().(*appendReq)
	defer r.release()
	if err := s.fill(r, streamID, expected, events); err != nil {
		return AppendResult{}, err
	}
	if f := s.refusing(); f != nil {
		return AppendResult{}, f
	}
	r.nevents = len(events)
	if err := s.w.submit(r); err != nil {
		return AppendResult{}, err
	}
	return r.res, r.err
}

// StreamAppend is one part of an AppendMulti: events for one stream, with
// that stream's expected version.
type StreamAppend struct {
	StreamID string
	Expected ExpectedVersion
	Events   []Proposed
}

// AppendMulti writes to several streams atomically: every part is checked
// (expected version, input rules) and then all are written in one frame
// with one fsync, or none is. Parts get consecutive positions in the order
// given; results[i] is parts[i]'s. A stream may appear once. Client event
// ids take part in idempotency only as a refusal: if one was already
// written to its stream the whole append fails with ErrDuplicateEvent
// (nothing is answered as a duplicate). Errors are Append's; a
// *WrongExpectedVersionError names the part's stream.
func (s *Store) AppendMulti(ctx context.Context, parts []StreamAppend) ([]AppendResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(parts) == 0 {
		return nil, inputErr(ErrInvalidEvent, "a multi-stream append needs at least one stream")
	}
	reqs := make([]*appendReq, len(parts))
	head := reqPool.Get().(*appendReq)
	defer head.release()
	total, bytes := 0, 0
	for i, p := range parts {
		r := head
		if i > 0 {
			r = &appendReq{}
		}
		reqs[i] = r
		for j := 0; j < i; j++ {
			if parts[j].StreamID == p.StreamID {
				return nil, inputErr(ErrInvalidEvent, "stream "+quoteShort(p.StreamID)+" appears more than once in one multi-stream append")
			}
		}
		if err := s.fill(r, p.StreamID, p.Expected, p.Events); err != nil {
			return nil, err
		}
		total += len(p.Events)
		bytes += r.bytes
	}
	if total > MaxAppendEvents {
		return nil, inputErr(ErrInvalidEvent, "a multi-stream append holds at most "+strconv.Itoa(MaxAppendEvents)+" events, got "+strconv.Itoa(total))
	}
	if bytes > maxAppendBytes {
		return nil, inputErr(ErrInvalidEvent, "the append is about "+strconv.Itoa(bytes)+" bytes, above the limit of "+strconv.Itoa(maxAppendBytes))
	}
	if f := s.refusing(); f != nil {
		return nil, f
	}
	head.more, head.multi, head.bytes, head.nevents = reqs[1:], true, bytes, total
	if err := s.w.submit(head); err != nil {
		return nil, err
	}
	if head.err != nil {
		return nil, head.err
	}
	out := make([]AppendResult, len(reqs))
	for i, r := range reqs {
		out[i] = r.res
	}
	return out, nil
}

// fill checks one append (stream id, event count, expected version, each
// event, ids repeated within it, total size) and fills r with it, making
// event ids where the caller gave none.
func (s *Store) fill(r *appendReq, streamID string, expected ExpectedVersion, events []Proposed) error {
	if err := ValidateStreamID(streamID); err != nil {
		return err
	}
	if err := CheckAppendLen(len(events)); err != nil {
		return err
	}
	if err := checkExpected(expected); err != nil {
		return err
	}
	r.streamID, r.expected = streamID, expected
	r.events = append(r.events[:0], events...)
	for i := range r.events {
		e := &r.events[i]
		if err := s.validateEvent(e); err != nil {
			if len(events) > 1 {
				err = &InputError{Kind: err.(*InputError).Kind, Msg: err.Error() + " (events[" + strconv.Itoa(i) + "])"}
			}
			return err
		}
		if e.ID == "" {
			if r.gen == nil {
				r.gen = append(r.genBuf[:0], make([]bool, len(events))...)
			}
			r.gen[i] = true
			e.ID = newUUIDv7()
		}
		r.bytes += len(streamID) + len(e.ID) + len(e.Type) + len(e.Data) + len(e.Metadata) + 64
	}
	if err := s.validate(streamID, r.events); err != nil {
		return err
	}
	if r.bytes > maxAppendBytes {
		return inputErr(ErrInvalidEvent, "the append is about "+strconv.Itoa(r.bytes)+" bytes, above the limit of "+strconv.Itoa(maxAppendBytes))
	}
	return repeatedID(r)
}

// reqPool recycles append requests (with their done channel and event
// slice): the token holder drops every reference to a request once it has
// answered it.
var reqPool = sync.Pool{New: func() any { return &appendReq{done: make(chan struct{}, 1)} }}

// release clears r (so the pool holds no caller memory) and pools it. A
// signal left in done would be a second answer (or a token handed to a
// request already answered), which would reach the next caller of the
// pooled request: a bug that must not pass silently.
func (r *appendReq) release() {
	if len(r.done) != 0 || r.lead {
		panic("engine: append request answered twice")
	}
	clear(r.events)
	r.events = r.events[:0]
	if r.gen != nil {
		r.genBuf = r.gen[:0]
	}
	*r = appendReq{events: r.events, genBuf: r.genBuf, done: r.done} // more too: it held other callers' parts
	reqPool.Put(r)
}

// repeatedID refuses an append that names one client event id twice: ids
// are unique per stream, and such an append could never be retried
// idempotently.
func repeatedID(r *appendReq) error {
	if len(r.events) < 2 {
		return nil
	}
	if len(r.events) <= 16 { // small appends: no map
		for i := range r.events {
			for j := 0; j < i; j++ {
				if !(r.gen != nil && (r.gen[i] || r.gen[j])) && r.events[i].ID == r.events[j].ID {
					return inputErr(ErrInvalidEvent, "eventId "+quoteShort(r.events[i].ID)+" appears more than once in one append")
				}
			}
		}
		return nil
	}
	seen := make(map[string]struct{}, len(r.events))
	for i := range r.events {
		if r.gen != nil && r.gen[i] {
			continue
		}
		if _, ok := seen[r.events[i].ID]; ok {
			return inputErr(ErrInvalidEvent, "eventId "+quoteShort(r.events[i].ID)+" appears more than once in one append")
		}
		seen[r.events[i].ID] = struct{}{}
	}
	return nil
}
