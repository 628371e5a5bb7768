package reducer

import (
	"fmt"
	"strings"

	"eventd/engine"
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
	deleted := strings.HasSuffix(e.Type, "Deleted")
	var data map[string]any
	if len(e.Data) > 0 && !deleted {
		var err error
		if data, err = DecodeObject(e.Data); err != nil {
			return nil, fmt.Errorf("%w: version %d: eventData: %v", ErrApply, e.Version, err)
		}
	}
	switch {
	case strings.HasSuffix(e.Type, "Created"):
		MergePatch(state, data)
		state["createdAt"] = FormatTime(e.Timestamp)
	case strings.HasSuffix(e.Type, "Updated"):
		if u, ok := data["updates"].(map[string]any); ok {
			MergePatch(state, u)
		} else {
			MergePatch(state, data)
		}
		state["updatedAt"] = FormatTime(e.Timestamp)
	case deleted:
		state["deleted"] = true
		state["deletedAt"] = FormatTime(e.Timestamp)
	default:
		MergePatch(state, data)
	}
	return state, nil
}
