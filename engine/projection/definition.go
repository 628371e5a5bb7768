package projection

import (
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/eventd/eventd/engine"
	"github.com/eventd/eventd/engine/reducer"
)

// Kind is what a projection computes.
type Kind string

// The kinds. Users create count and state projections; the system ones
// always exist.
const (
	// KindCount counts matching events: {"total": N, "byType": {...}}.
	KindCount Kind = "count"
	// KindState folds matching events into one state per key with a reducer.
	KindState Kind = "state"
	// KindSystem is the kind of the built-in projections ($by-event-type,
	// $by-category, $stream-stats).
	KindSystem Kind = "system"
)

// Status is a projection's state of running.
type Status string

// The statuses.
const (
	StatusActive     Status = "active"
	StatusPaused     Status = "paused"
	StatusError      Status = "error"
	StatusRebuilding Status = "rebuilding" // catching up after a reset
)

// StartFrom values.
const (
	StartBeginning = "beginning"
	StartNow       = "now"
)

// The system projections.
const (
	ByEventType = "$by-event-type"
	ByCategory  = "$by-category"
	StreamStats = "$stream-stats"
)

// Limits of a definition.
const (
	maxNameLen       = 200
	maxEventTypes    = 100
	maxKeyByLen      = 200
	keyByPrefix      = "eventData."
	maxKeyByDepth    = 16
	generatedIDBytes = 12
)

// Definition is what a client asks for. Its fields are echoed back as given
// (EventTypes keeps its order); two definitions are the same when they
// differ at most in the order of EventTypes.
type Definition struct {
	ID           string   // empty in Create: the manager makes one
	Name         string   // required
	Kind         Kind     // KindCount or KindState
	EventTypes   []string // empty: every type
	StreamPrefix string   // empty: every (non-system) stream
	KeyBy        string   // state only: "eventData.<field>[.<field>…]"; empty: the stream id
	Reducer      string   // state only: a reducer's name; empty: the stream's own at apply time
	StartFrom    string   // StartBeginning (default) or StartNow
}

// systemDefs are the built-in projections, in id order.
var systemDefs = []Definition{
	{ID: ByCategory, Name: "Events and streams by category", Kind: KindSystem},
	{ID: ByEventType, Name: "Events by event type", Kind: KindSystem},
	{ID: StreamStats, Name: "Statistics of every stream", Kind: KindSystem},
}

// IsSystem reports whether id names a system projection.
func IsSystem(id string) bool { return strings.HasPrefix(id, "$") }

// normalize fills defaults and checks d; reducers checks that a named
// reducer exists. The error wraps ErrInvalid (and engine.ErrInvalidEventType
// or ErrUnknownReducer when that is the cause).
func (d *Definition) normalize(reducers *reducer.Registry) error {
	if d.ID != "" {
		if IsSystem(d.ID) {
			return invalid("projectionId %s: ids starting with '$' belong to the system projections", quote(d.ID))
		}
		if engine.ValidateClientStreamID(d.ID) != nil {
			return invalid("invalid projectionId %s: want 1 to %d bytes of [A-Za-z0-9_.:@+=-], starting with a letter or digit", quote(d.ID), engine.MaxStreamIDLen)
		}
	}
	if d.Name == "" || len(d.Name) > maxNameLen || !utf8.ValidString(d.Name) {
		return invalid("name is required: 1 to %d bytes of UTF-8", maxNameLen)
	}
	switch d.Kind {
	case KindCount, KindState:
	case "":
		return invalid("kind is required: count or state")
	default:
		return invalid("kind %s: want count or state (system projections are built in)", quote(string(d.Kind)))
	}
	if len(d.EventTypes) == 0 {
		d.EventTypes = nil // none given: every type
	}
	if len(d.EventTypes) > maxEventTypes {
		return invalid("eventTypes lists %d types, at most %d are allowed", len(d.EventTypes), maxEventTypes)
	}
	for i, t := range d.EventTypes {
		if err := engine.ValidateEventType(t); err != nil {
			return &inputError{msg: "eventTypes[" + itoa(i) + "]: " + err.Error(), cause: engine.ErrInvalidEventType}
		}
		if slices.Contains(d.EventTypes[:i], t) {
			return invalid("eventTypes lists %s twice", quote(t))
		}
	}
	if !engine.ValidStreamPrefix(d.StreamPrefix) {
		return invalid("streamPrefix %s: not a stream id prefix", quote(d.StreamPrefix))
	}
	if IsSystem(d.StreamPrefix) {
		return invalid("streamPrefix %s: user projections never see system streams", quote(d.StreamPrefix))
	}
	if d.Kind != KindState && (d.KeyBy != "" || d.Reducer != "") {
		return invalid("keyBy and reducer are only for kind state")
	}
	if d.KeyBy != "" {
		if _, err := parseKeyBy(d.KeyBy); err != nil {
			return err
		}
	}
	if d.Reducer != "" {
		if _, ok := reducers.Lookup(d.Reducer); !ok {
			return &inputError{msg: "unknown reducer " + quote(d.Reducer), cause: ErrUnknownReducer}
		}
	}
	switch d.StartFrom {
	case "":
		d.StartFrom = StartBeginning
	case StartBeginning, StartNow:
	default:
		return invalid("startFrom %s: want beginning or now", quote(d.StartFrom))
	}
	return nil
}

// parseKeyBy splits "eventData.a.b" into the path inside eventData.
func parseKeyBy(s string) ([]string, error) {
	rest, ok := strings.CutPrefix(s, keyByPrefix)
	if !ok || rest == "" || len(s) > maxKeyByLen {
		return nil, invalid("keyBy %s: want \"eventData.<field>\" (a dotted path, at most %d bytes)", quote(s), maxKeyByLen)
	}
	path := strings.Split(rest, ".")
	if len(path) > maxKeyByDepth || slices.Contains(path, "") {
		return nil, invalid("keyBy %s: want \"eventData.<field>\" (a dotted path of at most %d non-empty fields)", quote(s), maxKeyByDepth)
	}
	return path, nil
}

// same reports whether a and b define the same projection (ids aside).
func same(a, b Definition) bool {
	ta, tb := slices.Clone(a.EventTypes), slices.Clone(b.EventTypes)
	slices.Sort(ta)
	slices.Sort(tb)
	return a.Name == b.Name && a.Kind == b.Kind && slices.Equal(ta, tb) &&
		a.StreamPrefix == b.StreamPrefix && a.KeyBy == b.KeyBy && a.Reducer == b.Reducer &&
		a.StartFrom == b.StartFrom
}

// filter is the $all filter of a projection. User projections never see
// system streams.
func (d *Definition) filter() engine.Filter {
	if d.Kind == KindSystem {
		return engine.Filter{}
	}
	return engine.Filter{EventTypes: d.EventTypes, StreamPrefix: d.StreamPrefix, ExcludeSystem: true}
}
