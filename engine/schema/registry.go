package schema

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/eventd/eventd/engine"
	"github.com/eventd/eventd/engine/jsonv"
)

// Schemas are durable and auditable: each registration is an event in the
// system stream $schemas, appended before it takes effect and folded at
// start (Open).
//
//	stream  $schemas
//	type    SchemaRegistered
//	data    {"eventType", "currentVersion", "upcasters": [Step...], "jsonSchema"?, "revision"}
const (
	Stream         = "$schemas"
	registeredType = "SchemaRegistered"
	readBatch      = 1000
)

// Log is what the registry needs of the store; *engine.Store has it.
type Log interface {
	Append(ctx context.Context, streamID string, expected engine.ExpectedVersion, events []engine.Proposed) (engine.AppendResult, error)
	ReadStreamFunc(streamID string, from uint64, dir engine.Direction, limit int, fn func(*engine.Event) error) (next, head uint64, err error)
}

// Registry holds every event type's schema. It is the engine's Upcaster
// and Validator (install it with Store.SetUpcaster and SetValidator): reads
// look a type up without locks, in an immutable map replaced on each Put.
type Registry struct {
	log   Log
	putMu sync.Mutex
	types atomic.Pointer[typeSet]
	gen   atomic.Uint64 // counts installs (Generation)
}

// typeSet is the registry's immutable state: the schemas by event type,
// and a cheap filter in front of the map for the read path, where most
// events' types have no schema: filter[t[0]] has bit len(t)%64 set for
// every registered type t, so a clear bit proves "no schema" without
// hashing the type (a set bit may be another type: the map decides).
type typeSet struct {
	m      map[string]*typeSchema
	filter [256]uint64
}

// lookup returns the schema of typ.
func (s *typeSet) lookup(typ string) (*typeSchema, bool) {
	if len(typ) == 0 || s.filter[typ[0]]&(1<<(len(typ)&63)) == 0 {
		return nil, false
	}
	ts, ok := s.m[typ]
	return ts, ok
}

// typeSchema is one type's compiled schema.
type typeSchema struct {
	def      Definition
	revision string
	steps    [][]op             // steps[v-1] upcasts v → v+1
	validate *jsonschema.Schema // nil: no JSON Schema
}

var (
	_ engine.Upcaster  = (*Registry)(nil)
	_ engine.Validator = (*Registry)(nil)
)

// ErrVersionDown: a registration would lower a type's current version
// (events may exist at the higher one).
var ErrVersionDown = errors.New("schema: currentVersion cannot go down")

// New returns an empty registry that does not persist (tests).
func New() *Registry {
	r := &Registry{}
	r.types.Store(&typeSet{m: map[string]*typeSchema{}})
	return r
}

// Open returns a registry holding every schema registered in log's
// $schemas stream; Put persists new registrations there.
func Open(log Log) (*Registry, error) {
	r := New()
	r.log = log
	var from uint64
	for {
		n := 0
		_, _, err := log.ReadStreamFunc(Stream, from, engine.Forward, readBatch, func(e *engine.Event) error {
			n++
			from = e.Version
			if e.Type != registeredType {
				return nil
			}
			var d Definition
			if err := json.Unmarshal(e.Data, &d); err != nil {
				return fmt.Errorf("schema: %s version %d: %v", Stream, e.Version, err)
			}
			ts, err := compile(d)
			if err != nil {
				return fmt.Errorf("schema: %s version %d: %v", Stream, e.Version, err)
			}
			r.install(ts)
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

// compile checks a definition and compiles its chain and JSON Schema.
func compile(d Definition) (*typeSchema, error) {
	if err := checkHeader(&d); err != nil {
		return nil, err
	}
	ts := &typeSchema{def: d, revision: revisionOf(&d)}
	for i, s := range d.Upcasters {
		var ops []op
		for j, o := range s.Ops {
			c, err := compileOp(j, o)
			if err == nil {
				err = c.prepare()
			}
			if err != nil {
				return nil, defErr("upcasters[%d].ops[%d]: %v", i, j, err)
			}
			ops = append(ops, c)
		}
		ts.steps = append(ts.steps, ops)
	}
	if err := checkShapes(ts.steps); err != nil {
		return nil, err
	}
	if len(d.JSONSchema) > 0 && string(d.JSONSchema) != "null" {
		sch, err := compileJSONSchema(d.EventType, d.JSONSchema)
		if err != nil {
			return nil, defErr("jsonSchema: %v", err)
		}
		ts.validate = sch
	}
	return ts, nil
}

// Put registers d, durably when the registry was opened over a log.
// created: a new event type; changed: anything changed (an identical
// definition writes nothing). Errors: ErrDefinition, ErrVersionDown, or
// the log's append error.
func (r *Registry) Put(ctx context.Context, d Definition) (rev string, created, changed bool, err error) {
	if d.Upcasters == nil {
		d.Upcasters = []Step{}
	}
	for i := range d.Upcasters {
		if d.Upcasters[i].Ops == nil {
			d.Upcasters[i].Ops = []Op{}
		}
	}
	ts, err := compile(d)
	if err != nil {
		return "", false, false, err
	}
	r.putMu.Lock()
	defer r.putMu.Unlock()
	old := r.types.Load().m[d.EventType]
	if old != nil {
		if d.CurrentVersion < old.def.CurrentVersion {
			return "", false, false, fmt.Errorf("%w: %s is at version %d, the definition says %d", ErrVersionDown, d.EventType, old.def.CurrentVersion, d.CurrentVersion)
		}
		if same(old.def, d) {
			return old.revision, false, false, nil
		}
	}
	if r.log != nil {
		data, err := json.Marshal(struct {
			Definition
			Revision string `json:"revision"`
		}{d, ts.revision})
		if err != nil {
			return "", false, false, err
		}
		if _, err := r.log.Append(ctx, Stream, engine.Any, []engine.Proposed{{Type: registeredType, Data: data}}); err != nil {
			return "", false, false, err
		}
	}
	r.install(ts)
	return ts.revision, old == nil, true, nil
}

// same reports whether two definitions are equal (the JSON Schema by its
// canonical encoding).
func same(a, b Definition) bool {
	ja, _ := json.Marshal(a.Upcasters)
	jb, _ := json.Marshal(b.Upcasters)
	return a.CurrentVersion == b.CurrentVersion && string(ja) == string(jb) && canonical(a.JSONSchema) == canonical(b.JSONSchema)
}

func canonical(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	v, err := jsonv.Decode(raw)
	if err != nil {
		return string(raw)
	}
	b, _ := jsonv.Append(nil, v)
	return string(b)
}

// install publishes ts (copy on write: readers never lock).
func (r *Registry) install(ts *typeSchema) {
	cur := r.types.Load()
	next := &typeSet{m: make(map[string]*typeSchema, len(cur.m)+1), filter: cur.filter}
	for k, v := range cur.m {
		next.m[k] = v
	}
	next.m[ts.def.EventType] = ts
	next.filter[ts.def.EventType[0]] |= 1 << (len(ts.def.EventType) & 63)
	r.types.Store(next)
	r.gen.Add(1) // after the publish: a fold that began under the old generation sees it change
}

// Generation changes with every registration (snapshots compare it before
// and after a fold: a change means the fold may have mixed two chains).
func (r *Registry) Generation() uint64 { return r.gen.Load() }

// Entry is one registered schema as listed.
type Entry struct {
	Definition Definition
	Revision   string
}

// Get returns the schema of an event type.
func (r *Registry) Get(eventType string) (Entry, bool) {
	ts, ok := r.types.Load().m[eventType]
	if !ok {
		return Entry{}, false
	}
	return Entry{Definition: ts.def, Revision: ts.revision}, true
}

// List returns every schema in event-type order.
func (r *Registry) List() []Entry {
	m := r.types.Load().m
	out := make([]Entry, 0, len(m))
	for _, ts := range m {
		out = append(out, Entry{Definition: ts.def, Revision: ts.revision})
	}
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.Definition.EventType, b.Definition.EventType) })
	return out
}

// Revision is the revision of an event type's upcaster chain ("" when it
// has no schema): snapshots record it for every type they folded, and are
// used only while it is unchanged.
func (r *Registry) Revision(eventType string) string {
	if ts, ok := r.types.Load().m[eventType]; ok {
		return ts.revision
	}
	return ""
}
