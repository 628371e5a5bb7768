package schema

import (
	"fmt"

	"eventd/engine"
	"eventd/engine/jsonv"
)

// Upcast implements engine.Upcaster: an event stored at a version below
// its type's current one is decoded, run through the steps from its
// version up, and encoded again (keys sorted, numbers as written).
func (r *Registry) Upcast(e *engine.Event, dst []byte) ([]byte, uint32, bool, error) {
	ts, ok := (*r.types.Load())[e.Type]
	if !ok {
		return nil, 0, false, nil
	}
	v := max(e.SchemaVersion, 1)
	cur := ts.def.CurrentVersion
	if v >= cur {
		return nil, 0, false, nil
	}
	data := map[string]any{}
	if len(e.Data) > 0 {
		var err error
		if data, err = jsonv.DecodeObject(e.Data); err != nil {
			return nil, 0, false, fmt.Errorf("eventData: %v", err)
		}
	}
	for ; v < cur; v++ {
		for i := range ts.steps[v-1] {
			o := &ts.steps[v-1][i]
			if err := o.apply(data); err != nil {
				return nil, 0, false, fmt.Errorf("upcaster %d→%d, op %d (%s): %v", v, v+1, o.n, o.kind, err)
			}
		}
	}
	out, err := jsonv.AppendObject(dst, data)
	if err != nil {
		return nil, 0, false, err
	}
	return out, cur, true, nil
}
