package engine

import (
	"context"
	"strconv"
	"sync"
)

// Append writes events to streamID atomically, after checking expected.
// It returns once the batch is durable per the fsync policy. ctx is only
// checked before the append is queued: once queued it is always answered.
// Errors: *WrongExpectedVersionError, ErrDuplicateEvent, *InputError
// (ErrInvalidStreamID, ErrInvalidEventType, ErrEventTooLarge,
// ErrInvalidEvent), *FailedError, ErrClosed, ctx.Err().
func (s *Store) Append(ctx context.Context, streamID string, expected ExpectedVersion, events []Proposed) (AppendResult, error) {
	if err := ctx.Err(); err != nil {
		return AppendResult{}, err
	}
	if err := ValidateStreamID(streamID); err != nil {
		return AppendResult{}, err
	}
	if err := CheckAppendLen(len(events)); err != nil {
		return AppendResult{}, err
	}
	if err := checkExpected(expected); err != nil {
		return AppendResult{}, err
	}
	if f := s.failed.Load(); f != nil {
		return AppendResult{}, f
	}
	r := reqPool.Get().(*appendReq)
	defer r.release()
	r.streamID, r.expected = streamID, expected
	r.events = append(r.events[:0], events...)
	for i := range r.events {
		e := &r.events[i]
		if err := s.validateEvent(e); err != nil {
			if len(events) > 1 {
				err = &InputError{Kind: err.(*InputError).Kind, Msg: err.Error() + " (events[" + strconv.Itoa(i) + "])"}
			}
			return AppendResult{}, err
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
	if r.bytes > maxAppendBytes {
		return AppendResult{}, inputErr(ErrInvalidEvent, "the append is about "+strconv.Itoa(r.bytes)+" bytes, above the limit of "+strconv.Itoa(maxAppendBytes))
	}
	if err := repeatedID(r); err != nil {
		return AppendResult{}, err
	}
	if err := s.w.enqueue(r); err != nil {
		return AppendResult{}, err
	}
	<-r.done
	return r.res, r.err
}

// reqPool recycles append requests (with their done channel and event
// slice): the writer drops every reference to a request before it answers.
var reqPool = sync.Pool{New: func() any { return &appendReq{done: make(chan struct{}, 1)} }}

// release clears r (so the pool holds no caller memory) and pools it.
func (r *appendReq) release() {
	clear(r.events)
	r.events = r.events[:0]
	if r.gen != nil {
		r.genBuf = r.gen[:0]
	}
	*r = appendReq{events: r.events, genBuf: r.genBuf, done: r.done}
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
