package command

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/eventd/eventd/engine"
	"github.com/eventd/eventd/engine/jsonv"
	"github.com/eventd/eventd/engine/reducer"
)

// The $commands stream: one event per step of a command (format in
// doc.go). The in-memory table keeps only where a command's latest record
// is; everything an answer needs is read back from it.

const (
	commandsStream = "$commands"
	evAccepted     = "CommandAccepted"
	evCompleted    = "CommandCompleted"
	evFailed       = "CommandFailed"
)

// record is the data of every $commands event; each type uses its part.
type record struct {
	ID          string `json:"id"`
	Type        string `json:"commandType"`
	Fingerprint string `json:"fingerprint"`
	CreatedAt   string `json:"createdAt"`
	Async       bool   `json:"async,omitempty"`

	// CommandAccepted: what running it later needs.
	Data        json.RawMessage `json:"commandData,omitempty"`
	Metadata    json.RawMessage `json:"metadata,omitempty"`
	Expected    *int64          `json:"expected,omitempty"`        // engine.ExpectedVersion; absent: any
	ExpectedRaw json.RawMessage `json:"expectedVersion,omitempty"` // as the client sent it

	// CommandCompleted: where its events are.
	Result *recordResult `json:"result,omitempty"`

	// CommandFailed: the answer it got.
	Error      string          `json:"error,omitempty"`
	HTTPStatus int             `json:"httpStatus,omitempty"`
	Code       string          `json:"code,omitempty"`
	Details    json.RawMessage `json:"details,omitempty"`
}

// recordResult names a completed command's events: versions FirstVersion
// to Version of StreamID, written in the same append as the record, so
// they sit at the positions right before it.
type recordResult struct {
	StreamID     string   `json:"streamId"`
	FirstVersion uint64   `json:"firstVersion"`
	Version      uint64   `json:"version"`
	EventTypes   []string `json:"eventTypes"`
}

// job is a command being run: the request, its identity and its plan.
type job struct {
	req       Request
	fp        fingerprint
	createdAt time.Time
	h         *handler
	data      map[string]any // commandData, decoded
	stream    string         // the aggregate, from plan
}

// The records are encoded by hand (appendRecord): a completed command's
// record is on every command's path, and encoding/json's reflection was a
// tenth of a command's CPU.

func (j *job) base() record {
	return record{ID: j.req.ID, Type: j.req.Type, Fingerprint: j.fp.String(), CreatedAt: reducer.FormatTime(j.createdAt), Async: j.req.Async}
}

func (j *job) acceptedRecord() []byte {
	r := j.base()
	r.Data, r.Metadata = j.req.Data, j.req.Metadata
	if j.req.Expected != engine.Any {
		x := int64(j.req.Expected)
		r.Expected, r.ExpectedRaw = &x, j.req.ExpectedRaw
	}
	return appendRecord(nil, &r)
}

func (j *job) completedRecord(stream string, first, last uint64, types []string) []byte {
	r := j.base()
	r.Result = &recordResult{StreamID: stream, FirstVersion: first, Version: last, EventTypes: types}
	return appendRecord(make([]byte, 0, 256), &r)
}

func (j *job) failedRecord(f *Failure) []byte {
	r := j.base()
	r.Error, r.HTTPStatus, r.Code, r.Details = f.Message, f.HTTPStatus, f.Code, f.Details
	return appendRecord(nil, &r)
}

// appendRecord encodes r as encoding/json would (same names, omitempty),
// raw JSON parts copied as they are: they were checked when they came in.
func appendRecord(b []byte, r *record) []byte {
	str := func(name, v string) {
		b = append(b, ',', '"')
		b = append(b, name...)
		b = append(b, '"', ':')
		b = jsonv.AppendString(b, v)
	}
	raw := func(name string, v []byte) {
		if len(v) == 0 {
			return
		}
		b = append(b, ',', '"')
		b = append(b, name...)
		b = append(b, '"', ':')
		b = append(b, v...)
	}
	b = append(b, `{"id":`...)
	b = jsonv.AppendString(b, r.ID)
	str("commandType", r.Type)
	str("fingerprint", r.Fingerprint)
	str("createdAt", r.CreatedAt)
	if r.Async {
		b = append(b, `,"async":true`...)
	}
	raw("commandData", r.Data)
	raw("metadata", r.Metadata)
	if r.Expected != nil {
		raw("expected", strconv.AppendInt(nil, *r.Expected, 10))
		raw("expectedVersion", r.ExpectedRaw)
	}
	if rr := r.Result; rr != nil {
		b = append(b, `,"result":{"streamId":`...)
		b = jsonv.AppendString(b, rr.StreamID)
		b = append(b, `,"firstVersion":`...)
		b = strconv.AppendUint(b, rr.FirstVersion, 10)
		b = append(b, `,"version":`...)
		b = strconv.AppendUint(b, rr.Version, 10)
		b = append(b, `,"eventTypes":[`...)
		for i, t := range rr.EventTypes {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonv.AppendString(b, t)
		}
		b = append(b, "]}"...)
	}
	if r.Error != "" {
		str("error", r.Error)
	}
	if r.HTTPStatus != 0 {
		raw("httpStatus", strconv.AppendInt(nil, int64(r.HTTPStatus), 10))
	}
	if r.Code != "" {
		str("code", r.Code)
	}
	raw("details", r.Details)
	return append(b, '}')
}

// stored is a $commands event read back.
type stored struct {
	rec       record
	typ       string
	version   uint64
	position  uint64
	timestamp time.Time
}

// readRecord reads the $commands event at version.
func (s *Service) readRecord(version uint64) (stored, error) {
	var st stored
	found := false
	_, _, err := s.log.ReadStreamFunc(commandsStream, version-1, engine.Forward, 1, func(e *engine.Event) error {
		found = true
		st.typ, st.version, st.position, st.timestamp = strings.Clone(e.Type), e.Version, e.Position, e.Timestamp
		return json.Unmarshal(e.Data, &st.rec) // copies what it keeps
	})
	if err != nil {
		return st, fmt.Errorf("command: reading %s version %d: %w", commandsStream, version, err)
	}
	if !found || st.version != version {
		return st, fmt.Errorf("command: %s has no version %d", commandsStream, version)
	}
	return st, nil
}

// jobOf rebuilds the job of a CommandAccepted record (its handler is
// looked up again: it runs under the definition in effect when it runs).
func (s *Service) jobOf(st stored) (*job, error) {
	r := st.rec
	fp, ok := parseFingerprint(r.Fingerprint)
	if !ok {
		return nil, fmt.Errorf("command: %s version %d: bad fingerprint %q", commandsStream, st.version, r.Fingerprint)
	}
	created, err := time.Parse(reducer.TimeLayout, r.CreatedAt)
	if err != nil {
		return nil, fmt.Errorf("command: %s version %d: bad createdAt: %w", commandsStream, st.version, err)
	}
	j := &job{fp: fp, createdAt: created, req: Request{ID: r.ID, Type: r.Type, Data: r.Data, Metadata: r.Metadata,
		Expected: engine.Any, ExpectedRaw: r.ExpectedRaw, Async: r.Async}}
	if r.Expected != nil {
		j.req.Expected = engine.ExpectedVersion(*r.Expected)
	}
	if j.data, err = jsonv.DecodeObject(r.Data); err != nil {
		return nil, fmt.Errorf("command: %s version %d: commandData: %w", commandsStream, st.version, err)
	}
	return j, nil
}

// outcomeOf builds the answer of a command from its latest record; status
// is the table's (Processing is not in the log).
func (s *Service) outcomeOf(st stored, status Status) (Outcome, error) {
	r := &st.rec
	created, err := time.Parse(reducer.TimeLayout, r.CreatedAt)
	if err != nil {
		return Outcome{}, fmt.Errorf("command: %s version %d: bad createdAt: %w", commandsStream, st.version, err)
	}
	o := Outcome{Command: Command{ID: r.ID, Type: r.Type, Status: status, CreatedAt: created}}
	switch st.typ {
	case evAccepted:
		if status.Final() {
			return Outcome{}, fmt.Errorf("command: %s is %s but its latest record is %s", r.ID, status, st.typ)
		}
	case evFailed:
		o.Command.Status, o.Command.ProcessedAt, o.Command.Error = Failed, st.timestamp, r.Error
		o.Failure = &Failure{HTTPStatus: r.HTTPStatus, Code: r.Code, Message: r.Error, Details: r.Details}
	case evCompleted:
		if r.Result == nil {
			return Outcome{}, fmt.Errorf("command: %s version %d: %s without a result", commandsStream, st.version, st.typ)
		}
		o.Command.Status, o.Command.ProcessedAt = Completed, st.timestamp
		if o.Result, err = s.resultOf(r.Result, st.position); err != nil {
			return Outcome{}, err
		}
	default:
		return Outcome{}, fmt.Errorf("command: %s version %d has unknown type %q", commandsStream, st.version, st.typ)
	}
	return o, nil
}

// resultOf reads a completed command's events back. They were written in
// one append with the record at recPos, so they are the positions just
// before it; anything else means the log is not what was written.
func (s *Service) resultOf(rr *recordResult, recPos uint64) (*Result, error) {
	if rr.FirstVersion == 0 || rr.Version < rr.FirstVersion || rr.Version-rr.FirstVersion >= recPos {
		return nil, fmt.Errorf("command: result versions %d..%d of %q are impossible", rr.FirstVersion, rr.Version, rr.StreamID)
	}
	n := rr.Version - rr.FirstVersion + 1
	res := &Result{StreamID: rr.StreamID, Version: rr.Version, Events: make([]ResultEvent, 0, n)}
	_, _, err := s.log.ReadStreamFunc(rr.StreamID, rr.FirstVersion-1, engine.Forward, int(n), func(e *engine.Event) error {
		want := recPos - n + uint64(len(res.Events))
		if e.Position != want {
			return fmt.Errorf("command: event %d of %q is at position %d, want %d (just before its CommandCompleted)", e.Version, rr.StreamID, e.Position, want)
		}
		// The event aliases the read buffer: keep copies.
		res.Events = append(res.Events, ResultEvent{ID: strings.Clone(e.ID), StreamID: rr.StreamID, Version: e.Version, Position: e.Position, Type: strings.Clone(e.Type)})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if uint64(len(res.Events)) != n {
		return nil, errors.New("command: the events of a completed command are missing from " + quoteShort(rr.StreamID))
	}
	return res, nil
}
