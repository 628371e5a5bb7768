package command

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/eventd/eventd/engine"
)

// Registered handler definitions are events in the system stream
// $command-handlers (format in doc.go): a PUT appends one and only then
// publishes the definition, so a definition in effect is always in the
// log, and Open folds the stream to get them back.

const (
	handlersStream = "$command-handlers"
	evRegistered   = "CommandHandlerRegistered"
)

// defRecord is the data of a CommandHandlerRegistered event.
type defRecord struct {
	CommandType  string `json:"commandType"`
	EventType    string `json:"eventType"`
	StreamIDFrom string `json:"streamIdFrom"`
	Expect       Expect `json:"expect"`
	Data         string `json:"data"`
}

// definitions holds the registered handlers.
type definitions struct {
	// mu serializes PutHandler: append, then publish.
	mu sync.Mutex
	// version is the last $command-handlers version folded or written
	// (under mu): the exact expected version of the next PUT.
	version uint64
	// cur is the registered handlers, replaced whole on each change, so
	// commands look one up without a lock.
	cur atomic.Pointer[map[string]*handler]
}

// handler returns the handler of a command type: built-in or registered.
func (s *Service) handler(typ string) (*handler, bool) {
	if h, ok := builtIns[typ]; ok {
		return h, true
	}
	h, ok := (*s.defs.cur.Load())[typ]
	return h, ok
}

// loadDefinitions folds $command-handlers. A definition that no longer
// passes the rules is logged and skipped (the rules are checked before
// every write, so only a rule changed by an upgrade can do that); a record
// that does not decode stops Open: the stream is only ever written here.
func (s *Service) loadDefinitions() error {
	m := map[string]*handler{}
	err := readPaged(s.log, handlersStream, func(e *engine.Event) error {
		s.defs.version = e.Version
		if e.Type != evRegistered {
			s.logger.Warn("commands: unknown event type in "+handlersStream+", skipped", "type", e.Type, "position", e.Position)
			return nil
		}
		var r defRecord
		if err := json.Unmarshal(e.Data, &r); err != nil {
			return fmt.Errorf("command: %s version %d (position %d) does not decode: %w", handlersStream, e.Version, e.Position, err)
		}
		h, err := newHandler(r.CommandType, HandlerDef{EventType: r.EventType, StreamIDFrom: r.StreamIDFrom, Expect: r.Expect, Data: r.Data})
		if err != nil {
			s.logger.Warn("commands: a stored handler definition breaks today's rules, skipped", "commandType", r.CommandType, "position", e.Position, "err", err)
			return nil
		}
		h.UpdatedAt = e.Timestamp
		m[r.CommandType] = h
		return nil
	})
	if err != nil {
		return err
	}
	s.defs.cur.Store(&m)
	return nil
}

// PutHandler registers (created) or replaces the handler of commandType
// and returns it as stored. A definition equal to the current one writes
// nothing. Errors: *InputError (ErrInvalid: a bad command type, path or
// expect value, or a built-in command type; engine.ErrInvalidEventType),
// ErrClosed, the store's errors.
func (s *Service) PutHandler(ctx context.Context, commandType string, d HandlerDef) (h Handler, created bool, err error) {
	nh, err := newHandler(commandType, d)
	if err != nil {
		return Handler{}, false, err
	}
	if s.closed.Load() {
		return Handler{}, false, ErrClosed
	}
	s.defs.mu.Lock()
	defer s.defs.mu.Unlock()
	cur := *s.defs.cur.Load()
	old, exists := cur[commandType]
	if exists && old.HandlerDef == d {
		return old.Handler, false, nil
	}
	data, err := json.Marshal(defRecord{commandType, d.EventType, d.StreamIDFrom, d.Expect, d.Data})
	if err != nil {
		return Handler{}, false, err
	}
	exp := engine.ExpectedVersion(s.defs.version)
	if s.defs.version == 0 {
		exp = engine.NoStream
	}
	res, err := s.log.Append(ctx, handlersStream, exp, []engine.Proposed{{Type: evRegistered, Data: data}})
	if err != nil {
		var wev *engine.WrongExpectedVersionError
		if errors.As(err, &wev) {
			// Only this service writes the stream, under mu: another
			// writer means two daemons on one log, which LOCK prevents.
			return Handler{}, false, fmt.Errorf("command: %s changed under the service: %w", handlersStream, err)
		}
		return Handler{}, false, err
	}
	s.defs.version = res.LastVersion
	nh.UpdatedAt = res.Timestamp
	next := maps.Clone(cur)
	next[commandType] = nh
	s.defs.cur.Store(&next)
	s.logger.Info("commands: handler registered", "commandType", commandType, "eventType", d.EventType, "replaced", exists)
	return nh.Handler, !exists, nil
}

// Handlers lists every handler, built-in and registered, by command type.
func (s *Service) Handlers() []Handler {
	reg := *s.defs.cur.Load()
	out := make([]Handler, 0, len(builtIns)+len(reg))
	for _, h := range builtIns {
		out = append(out, h.Handler)
	}
	for _, h := range reg {
		out = append(out, h.Handler)
	}
	slices.SortFunc(out, func(a, b Handler) int { return strings.Compare(a.CommandType, b.CommandType) })
	return out
}

// readPaged calls fn with every event of a stream, oldest first, reading
// it in pages so that a long stream is never held in memory. fn must not
// keep the event.
func readPaged(log Log, stream string, fn func(*engine.Event) error) error {
	const page = 4096
	from := uint64(0)
	for {
		n := 0
		next, _, err := log.ReadStreamFunc(stream, from, engine.Forward, page, func(e *engine.Event) error {
			n++
			from = e.Version
			return fn(e)
		})
		if err != nil {
			return err
		}
		if next == 0 || n == 0 {
			return nil
		}
	}
}
