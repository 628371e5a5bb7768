package engine

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Event versioning happens inside the engine, behind two interfaces it
// declares and engine/schema implements, so that no caller can skip them:
//
//   - an Upcaster on the read path: every read, $all page, subscription,
//     replay, projection and command decision sees events upcast to their
//     type's current schema version (stored bytes never change; Stored
//     reads show them as stored);
//   - a Validator on the append path: every Append and AppendMulti checks
//     each event before anything is queued.
//
// System streams ("$…") are neither upcast nor validated: their events are
// the subsystems' own records.

// Upcaster turns a stored event into its type's current schema version.
type Upcaster interface {
	// Upcast returns e's data upcast to the current version of its type,
	// appended to dst, and that version; changed is false when e is
	// already current (or its type has no schema), and then data is nil.
	// It must not keep e or dst. An error fails the read (ErrUpcast).
	Upcast(e *Event, dst []byte) (data []byte, version uint32, changed bool, err error)
}

// Validator checks an event before it is appended.
type Validator interface {
	// Validate returns nil, or a *SchemaViolationError (any other error is
	// wrapped in one), refusing the whole append.
	Validate(streamID string, e *Proposed) error
}

var (
	// ErrUpcast is wrapped by a read that met an event its type's upcaster
	// chain cannot upcast (an op met a value of the wrong kind).
	ErrUpcast = errors.New("engine: cannot upcast event")
	// ErrSchemaViolation is wrapped by an append refused by the Validator.
	ErrSchemaViolation = errors.New("engine: event does not match its schema")
)

// UpcastError says which stored event could not be upcast, and why.
type UpcastError struct {
	Position uint64
	Type     string
	Version  uint32 // as stored
	Err      error
}

func (e *UpcastError) Error() string {
	return fmt.Sprintf("cannot upcast the event at position %d (%s, schemaVersion %d): %v", e.Position, e.Type, e.Version, e.Err)
}

func (e *UpcastError) Unwrap() []error { return []error{ErrUpcast, e.Err} }

// Violation is one way an event fails its schema: where (a JSON pointer
// into eventData) and what.
type Violation struct {
	Path    string
	Message string
}

// SchemaViolationError refuses an append: event Index of the append does
// not match the schema of its type at its schema version.
type SchemaViolationError struct {
	Index      int
	Type       string
	Version    uint32
	Violations []Violation
}

func (e *SchemaViolationError) Error() string {
	msg := "events[" + strconv.Itoa(e.Index) + "] (" + e.Type + ", schemaVersion " + strconv.FormatUint(uint64(e.Version), 10) + ") does not match its schema"
	for i, v := range e.Violations {
		if i == 3 {
			msg += fmt.Sprintf("; and %d more", len(e.Violations)-3)
			break
		}
		p := v.Path
		if p == "" {
			p = "(root)"
		}
		msg += "; " + p + ": " + v.Message
	}
	return msg
}

func (e *SchemaViolationError) Unwrap() error { return ErrSchemaViolation }

// SetUpcaster installs the read path's upcaster (nil: none). Set it
// before serving reads: events already handed out are not changed.
func (s *Store) SetUpcaster(u Upcaster) {
	if u == nil {
		s.upcaster.Store(nil)
		return
	}
	s.upcaster.Store(&u)
}

// SetValidator installs the append path's validator (nil: none).
func (s *Store) SetValidator(v Validator) {
	if v == nil {
		s.validator.Store(nil)
		return
	}
	s.validator.Store(&v)
}

// validate runs the validator over an append's events.
func (s *Store) validate(streamID string, events []Proposed) error {
	vp := s.validator.Load()
	if vp == nil || IsSystemStream(streamID) {
		return nil
	}
	for i := range events {
		if err := (*vp).Validate(streamID, &events[i]); err != nil {
			var sv *SchemaViolationError
			if !errors.As(err, &sv) {
				sv = &SchemaViolationError{Type: events[i].Type, Version: max(events[i].SchemaVersion, 1),
					Violations: []Violation{{Path: "", Message: err.Error()}}}
			}
			sv.Index = i
			return sv
		}
	}
	return nil
}

// upcaster is one read's view of the installed upcaster: it keeps a
// scratch buffer for pooled reads (whose events live only during the
// callback) and makes fresh data for the others.
type upcaster struct {
	u      Upcaster
	pooled bool
	buf    []byte
}

func (s *Store) readUpcaster(stored, pooled bool) *upcaster {
	if stored {
		return nil
	}
	up := s.upcaster.Load()
	if up == nil {
		return nil
	}
	return &upcaster{u: *up, pooled: pooled}
}

// apply upcasts e in place (nil receiver: nothing to do).
func (u *upcaster) apply(e *Event) error {
	if u == nil || IsSystemStream(e.StreamID) {
		return nil
	}
	var dst []byte
	if u.pooled {
		dst = u.buf[:0]
	}
	data, v, changed, err := u.u.Upcast(e, dst)
	if err != nil {
		return &UpcastError{Position: e.Position, Type: strings.Clone(e.Type), Version: e.SchemaVersion, Err: err}
	}
	if changed {
		if u.pooled {
			u.buf = data
		}
		e.Data, e.SchemaVersion = data, v
	}
	return nil
}

// StoredReader reads events as stored: no upcasting (the API's
// upcast=false). Get one with Store.Stored.
type StoredReader struct{ s *Store }

// Stored returns a reader of events as stored.
func (s *Store) Stored() StoredReader { return StoredReader{s} }

// ReadStream is Store.ReadStream without upcasting.
func (r StoredReader) ReadStream(streamID string, from uint64, dir Direction, limit int) (Page, error) {
	var evs []Event
	next, head, err := r.s.readStream(streamID, from, dir, limit, readOpts{stored: true}, func(e *Event) error {
		evs = append(evs, *e)
		return nil
	})
	if err != nil {
		return Page{}, err
	}
	return Page{Events: evs, Next: next, Head: head}, nil
}

// ReadStreamFunc is Store.ReadStreamFunc without upcasting.
func (r StoredReader) ReadStreamFunc(streamID string, from uint64, dir Direction, limit int, fn func(*Event) error) (next, head uint64, err error) {
	return r.s.readStream(streamID, from, dir, limit, readOpts{pooled: true, stored: true}, fn)
}

// ReadAllFunc is Store.ReadAllFunc without upcasting.
func (r StoredReader) ReadAllFunc(from uint64, dir Direction, limit int, f Filter, fn func(*Event) error) (next, head uint64, err error) {
	return r.s.readAll(from, dir, limit, f, readOpts{pooled: true, stored: true}, fn)
}

// Subscribe is Store.Subscribe without upcasting.
func (r StoredReader) Subscribe(from uint64, f Filter) *Subscription {
	sub := r.s.Subscribe(from, f)
	sub.stored = true
	return sub
}

// SubscribeStream is Store.SubscribeStream without upcasting.
func (r StoredReader) SubscribeStream(streamID string, fromVersion, fromPosition uint64) *Subscription {
	sub := r.s.SubscribeStream(streamID, fromVersion, fromPosition)
	sub.stored = true
	return sub
}
