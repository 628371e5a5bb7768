package schema

import (
	"errors"
	"fmt"

	"github.com/eventd/eventd/engine"
)

// Upcast implements engine.Upcaster: an event stored at a version below
// its type's current one is decoded, run through the steps from its
// version up, and encoded again (keys sorted, numbers as written).
func (r *Registry) Upcast(e *engine.Event, dst []byte) ([]byte, uint32, bool, error) {
	ts, ok := r.types.Load().lookup(e.Type)
	if !ok {
		return nil, 0, false, nil
	}
	v := max(e.SchemaVersion, 1)
	cur := ts.def.CurrentVersion
	if v >= cur {
		return nil, 0, false, nil
	}
	data := e.Data
	if len(data) == 0 {
		data = []byte("{}")
	}
	t := newTree(data)
	defer t.release()
	if err := t.parse(0); err != nil {
		if errors.Is(err, errShape) {
			err = errors.New("eventData is not a JSON object")
		}
		return nil, 0, false, err
	}
	for ; v < cur; v++ {
		for i := range ts.steps[v-1] {
			o := &ts.steps[v-1][i]
			if err := o.apply(t); err != nil {
				return nil, 0, false, fmt.Errorf("upcaster %d→%d, op %d (%s): %v", v, v+1, o.n, o.kind, err)
			}
		}
	}
	return t.encode(dst, 0), cur, true, nil
}
