package command

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"

	"github.com/eventd/eventd/engine"
	"github.com/eventd/eventd/engine/jsonv"
	"github.com/eventd/eventd/engine/reducer"
)

// execute decides j against its aggregate and writes the outcome: the
// event and CommandCompleted in one AppendMulti (the aggregate with the
// exact version decided on, $commands with Any), or CommandFailed alone.
// The caller holds the aggregate's lock, so the only conflict left is a
// write that bypasses commands (a plain append to the stream): then it
// reads again and decides again, at most MaxRetries times.
//
// Once its turn has come, the command is always recorded unless the store
// refuses the write: the caller's context only matters while it waits
// (a client gone after that still gets its command done, and its resend
// the answer), so the writes take none.
func (s *Service) execute(j *job) (Outcome, error) {
	ctx := context.Background() // see above: once it runs, it is recorded
	meta, err := eventMetadata(j.req.Metadata, j.req.ID)
	if err != nil { // the metadata was checked on the way in: not expected
		return s.fail(j, ruleBroken("metadata cannot be extended with commandId: "+err.Error()))
	}
	for attempt := 0; ; attempt++ {
		agg, err := s.load(j)
		if errors.Is(err, reducer.ErrApply) {
			return s.fail(j, ruleBroken("the events of stream "+quoteShort(j.stream)+" cannot be folded by its reducer: "+err.Error()))
		}
		if errors.Is(err, engine.ErrUpcast) {
			// Deterministic until an admin fixes the chain: recorded as a
			// failure (an async command would otherwise stay pending).
			return s.fail(j, ruleBroken("the events of stream "+quoteShort(j.stream)+" cannot be upcast: "+err.Error()))
		}
		if err != nil {
			return Outcome{}, err
		}
		if !expectedOK(j.req.Expected, agg.version) {
			return s.fail(j, wrongExpected(j.req, agg.version))
		}
		ev, reason := j.h.decide(agg, j.data, j.req.Data)
		if reason != "" {
			return s.fail(j, ruleBroken(reason))
		}
		ev.Metadata = meta
		rec := j.completedRecord(j.stream, agg.version+1, agg.version+1, []string{ev.Type})
		exp := engine.ExpectedVersion(agg.version)
		if agg.version == 0 {
			exp = engine.NoStream
		}
		res, err := s.log.AppendMulti(ctx, []engine.StreamAppend{
			{StreamID: j.stream, Expected: exp, Events: []engine.Proposed{ev}},
			{StreamID: commandsStream, Expected: engine.Any, Events: []engine.Proposed{{Type: evCompleted, Data: rec}}},
		})
		var wev *engine.WrongExpectedVersionError
		if errors.As(err, &wev) && wev.StreamID == j.stream {
			if attempt >= s.opts.MaxRetries {
				s.exhausted.Add(1)
				return s.fail(j, conflict(attempt, j.stream, agg.version, wev.Current))
			}
			s.retries.Add(1)
			continue
		}
		var sv *engine.SchemaViolationError
		if errors.As(err, &sv) {
			return s.fail(j, schemaViolation(sv))
		}
		if err != nil {
			return Outcome{}, err
		}
		s.table.settle(j.req.ID, res[1].LastVersion, Completed)
		out := Outcome{
			Command: Command{ID: j.req.ID, Type: j.req.Type, Status: Completed, CreatedAt: j.createdAt, ProcessedAt: res[1].Timestamp},
			Result:  &Result{StreamID: j.stream, Version: res[0].LastVersion, Events: make([]ResultEvent, len(res[0].Events))},
		}
		for i, a := range res[0].Events {
			out.Result.Events[i] = ResultEvent{ID: a.ID, StreamID: j.stream, Version: a.Version, Position: a.Position, Type: a.Type}
		}
		return out, nil
	}
}

// load reads the aggregate: its version, and its state (folded by the
// stream's reducer with reducer.Replay, the one fold) when the handler
// looks at it.
func (s *Service) load(j *job) (aggregate, error) {
	agg := aggregate{id: j.stream}
	if info, ok := s.log.Stream(j.stream); ok {
		agg.version = info.Version
	}
	if !j.h.needsState() || agg.version == 0 {
		return agg, nil
	}
	red := s.reducers.ForStream(j.stream)
	if s.opts.Fold != nil {
		st, err := s.opts.Fold(context.Background(), j.stream, agg.version, red)
		if err != nil {
			return agg, err
		}
		agg.state = st
		return agg, nil
	}
	res, err := reducer.Replay(s.log, j.stream, nil, 0, agg.version, red, nil)
	if err != nil {
		return agg, err
	}
	agg.version, agg.state = res.Version, res.State
	return agg, nil
}

// fail records j as failed (CommandFailed) and returns its outcome.
func (s *Service) fail(j *job, f *Failure) (Outcome, error) {
	rec := j.failedRecord(f)
	res, err := s.log.Append(context.Background(), commandsStream, engine.Any, []engine.Proposed{{Type: evFailed, Data: rec}})
	if err != nil {
		return Outcome{}, err
	}
	s.table.settle(j.req.ID, res.LastVersion, Failed)
	return Outcome{
		Command: Command{ID: j.req.ID, Type: j.req.Type, Status: Failed, CreatedAt: j.createdAt, ProcessedAt: res.Timestamp, Error: f.Message},
		Failure: f,
	}, nil
}

func ruleBroken(reason string) *Failure {
	return &Failure{HTTPStatus: statusUnprocessable, Code: CodeCommandFailed, Message: reason}
}

// wrongExpected is the client's expectedVersion not matching: the answer
// of an append's conflict, details included.
func wrongExpected(req Request, current uint64) *Failure {
	raw := req.ExpectedRaw
	if len(raw) == 0 {
		raw = []byte(strconv.FormatInt(int64(req.Expected), 10))
	}
	return &Failure{HTTPStatus: statusConflict, Code: CodeWrongExpectedVersion,
		Message: "wrong expected version: expected " + string(raw) + ", current version is " + strconv.FormatUint(current, 10),
		Details: details(raw, current)}
}

// conflict is the aggregate changing under the command every time it was
// decided. details.expectedVersion is the version the last decision was
// made against.
func conflict(retries int, stream string, decided, current uint64) *Failure {
	return &Failure{HTTPStatus: statusConflict, Code: CodeWrongExpectedVersion,
		Message: "conflict after " + strconv.Itoa(retries) + " retries: stream " + quoteShort(stream) +
			" kept changing under the command (writes that are not commands); send it again with a new commandId",
		Details: details([]byte(strconv.FormatUint(decided, 10)), current)}
}

// schemaViolation is the command's event refused by its type's schema: a
// rule broken, answered as an append's violation is (docs/api.md "Event
// versioning"), details included.
func schemaViolation(sv *engine.SchemaViolationError) *Failure {
	d := append([]byte(`{"event":`), strconv.Itoa(sv.Index)...)
	d = append(d, `,"eventType":`...)
	d = jsonv.AppendString(d, sv.Type)
	d = append(d, `,"schemaVersion":`...)
	d = strconv.AppendUint(d, uint64(sv.Version), 10)
	d = append(d, `,"violations":[`...)
	for i, v := range sv.Violations {
		if i > 0 {
			d = append(d, ',')
		}
		d = append(d, `{"path":`...)
		d = jsonv.AppendString(d, v.Path)
		d = append(d, `,"message":`...)
		d = jsonv.AppendString(d, v.Message)
		d = append(d, '}')
	}
	d = append(d, "]}"...)
	return &Failure{HTTPStatus: statusUnprocessable, Code: CodeSchemaViolation, Message: sv.Error(), Details: d}
}

func details(expected []byte, current uint64) json.RawMessage {
	d := append([]byte(`{"expectedVersion":`), expected...)
	d = append(d, `,"currentVersion":`...)
	d = strconv.AppendUint(d, current, 10)
	return append(d, '}')
}

// eventMetadata is the command's metadata with "commandId" added (it
// replaces a "commandId" the client put there: the events must name the
// command that wrote them).
func eventMetadata(meta []byte, id string) ([]byte, error) {
	if len(meta) == 0 {
		b := jsonv.AppendString(append(make([]byte, 0, 16+len(id)), `{"commandId":`...), id)
		return append(b, '}'), nil
	}
	m, err := jsonv.DecodeObject(meta)
	if err != nil {
		return nil, err
	}
	m["commandId"] = id
	return jsonv.AppendObject(nil, m)
}
