package reducer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/eventd/eventd/engine"
)

// Registered reducers are durable and auditable: each registration is an
// event in the system stream $reducers, appended before it takes effect
// and folded at start (Open), so the log stays the only truth and a future
// replica gets them with the rest of the log.
//
//	stream  $reducers
//	type    ReducerRegistered
//	data    {"name", "category"?, "handlers": {"<EventType>": [Op...]}, "revision"}
//
// Later registrations of a name replace earlier ones.
const (
	Stream           = "$reducers"
	registeredType   = "ReducerRegistered"
	definitionsBatch = 1000
)

// Log is what the registry needs of the store; *engine.Store has it.
type Log interface {
	Append(ctx context.Context, streamID string, expected engine.ExpectedVersion, events []engine.Proposed) (engine.AppendResult, error)
	ReadStreamFunc(streamID string, from uint64, dir engine.Direction, limit int, fn func(*engine.Event) error) (next, head uint64, err error)
}

// Open returns a registry holding Default and every reducer registered in
// log's $reducers stream; Put persists new registrations there.
func Open(log Log) (*Registry, error) {
	r := NewRegistry()
	r.log = log
	var from uint64
	for {
		n := 0
		_, _, err := log.ReadStreamFunc(Stream, from, engine.Forward, definitionsBatch, func(e *engine.Event) error {
			n++
			from = e.Version
			if e.Type != registeredType {
				return nil // a type of a later version: not ours to judge
			}
			var d Definition
			if err := json.Unmarshal(e.Data, &d); err != nil {
				return fmt.Errorf("reducer: %s version %d: %v", Stream, e.Version, err)
			}
			red, err := Compile(d)
			if err != nil {
				return fmt.Errorf("reducer: %s version %d: %v", Stream, e.Version, err)
			}
			r.register(red, d.Category)
			return nil
		})
		if err != nil {
			return nil, err
		}
		if n == 0 {
			return r, nil
		}
	}
}

// ErrCategoryTaken: another reducer is bound to the category.
var ErrCategoryTaken = errors.New("reducer: category has another reducer")

// Put registers d (replacing the reducer of that name), durably when the
// registry was opened over a log. created reports a new name; changed
// whether anything changed (an identical definition writes nothing and
// keeps its revision). Errors: ErrDefinition (d does not compile),
// ErrCategoryTaken, or the log's append error.
func (r *Registry) Put(ctx context.Context, d Definition) (e Entry, created, changed bool, err error) {
	red, err := Compile(d)
	if err != nil {
		return Entry{}, false, false, err
	}
	r.putMu.Lock()
	defer r.putMu.Unlock()
	old, exists := r.Lookup(d.Name)
	if d.Category != "" {
		if cur := r.forCategory(d.Category); cur != nil && cur.Name() != d.Name {
			return Entry{}, false, false, fmt.Errorf("%w: category %q is bound to reducer %q", ErrCategoryTaken, d.Category, cur.Name())
		}
	}
	if exists && old.Revision() == red.Revision() {
		return Entry{Reducer: old, Category: d.Category}, false, false, nil
	}
	if r.log != nil {
		data, err := json.Marshal(struct {
			Definition
			Revision string `json:"revision"`
		}{d, red.Revision()})
		if err != nil {
			return Entry{}, false, false, err
		}
		if _, err := r.log.Append(ctx, Stream, engine.Any, []engine.Proposed{{Type: registeredType, Data: data}}); err != nil {
			return Entry{}, false, false, err
		}
	}
	r.register(red, d.Category)
	return Entry{Reducer: red, Category: d.Category}, !exists, true, nil
}

// DefinitionOf returns the definition of a registered reducer (false for
// Default and reducers not built from a Definition).
func DefinitionOf(red Reducer) (Definition, bool) {
	c, ok := red.(*compiled)
	if !ok {
		return Definition{}, false
	}
	return c.def, true
}
