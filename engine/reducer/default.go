package reducer

import (
	"fmt"
	"strings"

	"github.com/eventd/eventd/engine"
	"github.com/eventd/eventd/engine/jsonv"
)

// DefaultName is the default reducer's name.
const DefaultName = "default"

// defaultRevision is the default reducer's revision. Bump it whenever
// Default's behaviour changes: snapshots made by the old code then stop
// being used.
const defaultRevision = "builtin-1"

// Default is the reducer of every stream whose category has none
// registered (docs/api.md "Reducers"). It generalises the seed's
// applyEvent:
//
//   - *Created merges eventData into the state and sets createdAt;
//   - *Updated merges eventData.updates (eventData when it has no
//     "updates" object) and sets updatedAt;
//   - *Deleted sets deleted: true and deletedAt (eventData is not merged);
//   - any other type merges eventData.
//
// Merges follow RFC 7386 (JSON Merge Patch): null removes a member,
// objects merge recursively, anything else replaces. Times are the event's
// timestamp.
var Default Reducer = defaultReducer{}

type defaultReducer struct{}

func (defaultReducer) Name() string     { return DefaultName }
func (defaultReducer) Revision() string { return defaultRevision }

func (defaultReducer) Apply(state State, e *engine.Event) (State, error) {
	if state == nil {
		state = State{}
	}
	data := e.Data
	if len(data) == 0 {
		data = emptyObject
	}
	// Merged as the data is read (jsonv.MergeObject): no patch is built.
	var err error
	switch {
	case strings.HasSuffix(e.Type, "Created"):
		if err = jsonv.MergeObject(state, data); err == nil {
			state["createdAt"] = FormatTime(e.Timestamp)
		}
	case strings.HasSuffix(e.Type, "Updated"):
		var merged bool
		if merged, err = jsonv.MergeMember(state, data, "updates"); err == nil && !merged {
			err = jsonv.MergeObject(state, data)
		}
		if err == nil {
			state["updatedAt"] = FormatTime(e.Timestamp)
		}
	case strings.HasSuffix(e.Type, "Deleted"):
		state["deleted"] = true
		state["deletedAt"] = FormatTime(e.Timestamp)
	default:
		err = jsonv.MergeObject(state, data)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: version %d: eventData: %v", ErrApply, e.Version, err)
	}
	return state, nil
}

var emptyObject = []byte("{}")
