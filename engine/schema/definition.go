package schema

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/cespare/xxhash/v2"

	"github.com/eventd/eventd/engine"
)

// Definition is an event type's schema (docs/api.md "Event versioning"):
// the current version, the upcaster chain from version 1 to it, and an
// optional JSON Schema for appends at the current version.
type Definition struct {
	EventType      string          `json:"eventType"`
	CurrentVersion uint32          `json:"currentVersion"`
	Upcasters      []Step          `json:"upcasters"`
	JSONSchema     json.RawMessage `json:"jsonSchema,omitempty"`
}

// Step upcasts eventData from version From to To (= From+1) with ops,
// applied in order.
type Step struct {
	From uint32 `json:"from"`
	To   uint32 `json:"to"`
	Ops  []Op   `json:"ops"`
}

// Op is one declarative change of eventData (paths are dotted paths inside
// eventData):
//
//	rename   {from, to}                 the member at from gets the name to (same parent)
//	move     {from, to}                 the value at from goes to the path to
//	copy     {from, to}                 the value at from is copied to the path to
//	default  {path, value}              path = value, when path is absent
//	set      {path, value}              path = value (a constant)
//	remove   {path}                     path is removed
//	map      {path, values, default?}   a string (or number, boolean) at path found in values is replaced
//	                                    by its mapping; otherwise by default, if given
//	split    {from, separator, to[], keep?}  the string at from, split by separator into the paths
//	                                    of to (the last takes the rest); from is removed unless keep
//	join     {from[], separator, to, keep?}  the strings (or numbers) at the paths of from, joined with
//	                                    separator, go to to; absent ones are skipped; sources removed
//	                                    unless keep
//
// A source that is absent makes an op do nothing. A value of the wrong
// kind (a split of a number, a path through a string) is refused at
// registration when the chain itself makes it so, and otherwise fails the
// read of that event (engine.ErrUpcast): the daemon never crashes on it.
type Op struct {
	Op        string                     `json:"op"`
	Path      string                     `json:"path,omitempty"`
	From      json.RawMessage            `json:"from,omitempty"` // a path, or (join) a list of paths
	To        json.RawMessage            `json:"to,omitempty"`   // a path, or (split) a list of paths
	Value     json.RawMessage            `json:"value,omitempty"`
	Values    map[string]json.RawMessage `json:"values,omitempty"`
	Default   json.RawMessage            `json:"default,omitempty"`
	Separator *string                    `json:"separator,omitempty"`
	Keep      bool                       `json:"keep,omitempty"`
}

// ErrDefinition is wrapped by every error of a definition that does not
// compile (registration refuses it: 400).
var ErrDefinition = errors.New("schema: invalid definition")

func defErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrDefinition}, args...)...)
}

// maxVersion bounds currentVersion (the API's schemaVersion limit).
const maxVersion = 1 << 31

// revisionOf hashes what upcasting depends on — the current version and
// the chain — so that snapshots built through another chain are never
// used. The JSON Schema does not change reads and is not part of it.
func revisionOf(d *Definition) string {
	b, _ := json.Marshal(struct {
		V uint32 `json:"v"`
		U []Step `json:"u"`
	}{d.CurrentVersion, d.Upcasters})
	return "r" + strconv.FormatUint(xxhash.Sum64(b), 16)
}

// checkHeader checks what is not in the ops: the type, the version, the
// chain's shape.
func checkHeader(d *Definition) error {
	if err := engine.ValidateEventType(d.EventType); err != nil {
		return defErr("%v", err)
	}
	if d.CurrentVersion < 1 || d.CurrentVersion > maxVersion {
		return defErr("currentVersion must be an integer from 1 to %d, got %d", maxVersion, d.CurrentVersion)
	}
	if want := int(d.CurrentVersion) - 1; len(d.Upcasters) != want {
		return defErr("currentVersion %d needs %d upcasters (1→2 … %d→%d), got %d", d.CurrentVersion, want, d.CurrentVersion-1, d.CurrentVersion, len(d.Upcasters))
	}
	for i, s := range d.Upcasters {
		if s.From != uint32(i+1) || s.To != uint32(i+2) {
			return defErr("upcasters[%d] is %d→%d, want %d→%d (one step per version, in order)", i, s.From, s.To, i+1, i+2)
		}
	}
	return nil
}
