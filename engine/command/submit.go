package command

import (
	"bytes"
	"context"
	"strconv"
	"time"

	"github.com/eventd/eventd/engine"
	"github.com/eventd/eventd/engine/jsonv"
)

// Submit runs a command, or answers it from the record of its first run.
//
// It returns an Outcome for every command that has (or now gets) a
// record: Completed with its Result, Failed with the Failure to answer
// (a broken rule, a wrong expected version, a conflict after MaxRetries),
// or — for async commands — Pending or Processing. An error means nothing
// was recorded for this request: *InputError (ErrUnknownCommand,
// ErrInvalid), ErrDuplicateCommand, ErrClosed, ctx.Err() (while waiting
// for the aggregate or for an identical send in flight), or the store's
// errors (*engine.InputError for an event it refuses, e.g. too large;
// *engine.FailedError; engine.ErrClosed; read errors).
//
// Identity: a known id with the same fingerprint (type + canonical data)
// answers what the table holds — the final outcome, or the current
// status of an async command still running; a known id with another
// fingerprint is ErrDuplicateCommand. An identical send arriving while the
// first is in flight waits for it.
func (s *Service) Submit(ctx context.Context, req Request) (Outcome, error) {
	if s.closed.Load() {
		return Outcome{}, ErrClosed
	}
	h, ok := s.handler(req.Type)
	if !ok {
		return Outcome{}, inputErr(ErrUnknownCommand, "unknown commandType "+quoteShort(req.Type)+": no built-in or registered handler (GET /api/command-handlers lists them)")
	}
	if req.ID != "" && !validID(req.ID) {
		return Outcome{}, inputErr(ErrInvalid, "commandId must be 1 to "+strconv.Itoa(MaxIDLen)+" bytes of UTF-8, got "+strconv.Itoa(len(req.ID))+" bytes")
	}
	req.Data = bytes.TrimSpace(req.Data) // it may become an event's data as is
	data, err := jsonv.DecodeObject(req.Data)
	if err != nil {
		return Outcome{}, inputErr(ErrInvalid, "commandData must be a JSON object: "+err.Error())
	}
	if len(req.Metadata) > 0 {
		if _, err := jsonv.DecodeObject(req.Metadata); err != nil {
			return Outcome{}, inputErr(ErrInvalid, "metadata must be a JSON object")
		}
	}
	if req.Expected == 0 {
		req.Expected = engine.Any // the zero value: absent
	}
	if !validExpected(req.Expected) {
		return Outcome{}, inputErr(ErrInvalid, "expectedVersion "+strconv.FormatInt(int64(req.Expected), 10)+": want a version ≥ 0, Any (-2), NoStream (-1) or StreamExists (-4)")
	}
	fp, err := fingerprintOf(req.Type, data)
	if err != nil {
		return Outcome{}, inputErr(ErrInvalid, "commandData cannot be encoded: "+err.Error())
	}
	if req.ID == "" {
		req.ID = newID()
	}
	j := &job{req: req, fp: fp, createdAt: time.Now().UTC(), h: h, data: data}

	if o, done, err := s.claim(ctx, j); done || err != nil {
		return o, err
	}
	// Claimed: this call runs it. Every path below records it (settle)
	// or gives the claim up (abandon).
	stream, reason := h.plan(data)
	if reason != "" {
		o, err := s.fail(j, ruleBroken(reason))
		if err != nil {
			s.table.abandon(req.ID)
		}
		return o, err
	}
	j.stream = stream
	if req.Async {
		return s.accept(j)
	}
	tk := s.locks.enqueue(stream)
	if err := tk.wait(ctx); err != nil {
		s.table.abandon(req.ID)
		return Outcome{}, err
	}
	o, err := s.execute(j)
	tk.release()
	if err != nil {
		s.table.abandon(req.ID)
	}
	return o, err
}

// claim makes j's id this call's to run (done false), or answers from
// what the table knows (done true), waiting for an identical send in
// flight first.
func (s *Service) claim(ctx context.Context, j *job) (o Outcome, done bool, err error) {
	fl := &flight{fp: j.fp, typ: j.req.Type, createdAt: j.createdAt, async: j.req.Async, done: make(chan struct{})}
	for {
		e, known, other := s.table.claim(j.req.ID, fl)
		switch {
		case other != nil:
			if other.fp != j.fp || other.typ != j.req.Type {
				return Outcome{}, true, ErrDuplicateCommand
			}
			select {
			case <-other.done: // recorded or abandoned: look again
			case <-ctx.Done():
				return Outcome{}, true, ctx.Err()
			}
		case known:
			st, err := s.readRecord(e.ver())
			if err != nil {
				return Outcome{}, true, err
			}
			if st.rec.ID != j.req.ID {
				return Outcome{}, true, collision(j.req.ID, st.rec.ID)
			}
			if fp, _ := parseFingerprint(st.rec.Fingerprint); fp != j.fp || st.rec.Type != j.req.Type {
				return Outcome{}, true, ErrDuplicateCommand
			}
			o, err := s.outcomeOf(st, e.status())
			return o, true, err
		default:
			return Outcome{}, false, nil
		}
	}
}

// accept records an async command (CommandAccepted) and queues it.
func (s *Service) accept(j *job) (Outcome, error) {
	res, err := s.log.Append(context.Background(), commandsStream, engine.Any, []engine.Proposed{{Type: evAccepted, Data: j.acceptedRecord()}})
	if err != nil {
		s.table.abandon(j.req.ID)
		return Outcome{}, err
	}
	s.table.settle(j.req.ID, res.LastVersion, Pending)
	// Its place in the aggregate's queue is taken now, before the 202:
	// nothing sent after it overtakes it.
	s.queue.pushPlaced(queued{id: j.req.ID, ver: res.LastVersion, stream: j.stream}, s.locks)
	return Outcome{Command: Command{ID: j.req.ID, Type: j.req.Type, Status: Pending, CreatedAt: j.createdAt}}, nil
}

func validExpected(e engine.ExpectedVersion) bool {
	return e >= 0 || e == engine.Any || e == engine.NoStream || e == engine.StreamExists
}

// expectedOK is the engine's expected-version rule, applied by the
// command to the version it decides against.
func expectedOK(exp engine.ExpectedVersion, cur uint64) bool {
	switch {
	case exp == engine.Any:
		return true
	case exp == engine.NoStream || exp == 0:
		return cur == 0
	case exp == engine.StreamExists:
		return cur > 0
	case exp > 0:
		return uint64(exp) == cur
	}
	return false
}
