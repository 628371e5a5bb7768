package server

import (
	"bytes"
	"encoding/json"
	"strings"

	"eventd/engine"
)

// The default reducer (API.md "Reducers"): it generalises the seed's
// applyEvent. A later issue moves reducers into engine/reducer.
//
//   - *Created merges eventData into the state and sets createdAt;
//   - *Updated merges eventData.updates (eventData when it has no "updates"
//     object) and sets updatedAt;
//   - *Deleted sets deleted: true and deletedAt;
//   - any other type merges eventData.
//
// Merges follow RFC 7386 (JSON Merge Patch): null removes a member, objects
// merge recursively, anything else replaces. Every time set comes from the
// event's timestamp, so a replay is deterministic.

// defaultReducerName is the only reducer this build knows.
const defaultReducerName = "default"

// decodeObject decodes a JSON object keeping numbers exact.
func decodeObject(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	return m, nil
}

// applyDefault folds one event into state and returns the new state.
func applyDefault(state map[string]any, e *engine.Event) (map[string]any, error) {
	if state == nil {
		state = map[string]any{}
	}
	var data map[string]any
	if len(e.Data) > 0 {
		var err error
		if data, err = decodeObject(e.Data); err != nil {
			return nil, err
		}
	}
	ts := formatTime(e.Timestamp)
	switch {
	case strings.HasSuffix(e.Type, "Created"):
		mergePatch(state, data)
		state["createdAt"] = ts
	case strings.HasSuffix(e.Type, "Updated"):
		if u, ok := data["updates"].(map[string]any); ok {
			mergePatch(state, u)
		} else {
			mergePatch(state, data)
		}
		state["updatedAt"] = ts
	case strings.HasSuffix(e.Type, "Deleted"):
		state["deleted"] = true
		state["deletedAt"] = ts
	default:
		mergePatch(state, data)
	}
	return state, nil
}

// mergePatch applies the RFC 7386 merge patch p to the object target.
func mergePatch(target, p map[string]any) {
	for k, v := range p {
		if v == nil {
			delete(target, k)
			continue
		}
		if pv, ok := v.(map[string]any); ok {
			tv, ok := target[k].(map[string]any)
			if !ok {
				tv = map[string]any{}
			}
			mergePatch(tv, pv)
			target[k] = tv
			continue
		}
		target[k] = v
	}
}
