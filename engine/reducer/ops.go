package reducer

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/eventd/eventd/engine/jsonv"

	"github.com/eventd/eventd/engine"
)

// op is a compiled Op.
type op struct {
	kind     string
	path     []string    // in the state; nil: the root
	from     string      // one of fromSources
	fromPath []string    // inside eventData or metadata
	useBy    bool        // increment by byNum rather than from
	byNum    json.Number // increment step
}

// Apply implements Reducer for a registered definition.
func (c *compiled) Apply(state State, e *engine.Event) (State, error) {
	ops, ok := c.handlers[e.Type]
	if state == nil {
		state = State{}
	}
	if !ok {
		return state, nil
	}
	src := eventValues{e: e}
	for i := range ops {
		if err := ops[i].apply(state, &src); err != nil {
			return nil, fmt.Errorf("%w: version %d (%s), %s op on %s: %v", ErrApply, e.Version, e.Type, ops[i].kind, pathName(ops[i].path), err)
		}
	}
	return state, nil
}

// eventValues decodes an event's data and metadata once, on first use.
type eventValues struct {
	e          *engine.Event
	data, meta map[string]any
	dataErr    error
	decoded    uint8 // bit 1: data, bit 2: meta
}

func (s *eventValues) get(from string, path []string) (any, bool, error) {
	switch from {
	case "timestamp":
		return FormatTime(s.e.Timestamp), true, nil
	// Strings of the event alias the reader's (pooled) buffer: copied.
	case "streamId":
		return strings.Clone(s.e.StreamID), true, nil
	case "version":
		return json.Number(strconv.FormatUint(s.e.Version, 10)), true, nil
	case "position":
		return json.Number(strconv.FormatUint(s.e.Position, 10)), true, nil
	case "eventType":
		return strings.Clone(s.e.Type), true, nil
	case "eventId":
		return strings.Clone(s.e.ID), true, nil
	}
	var root map[string]any
	if from == "eventData" {
		if s.decoded&1 == 0 {
			s.decoded |= 1
			if len(s.e.Data) > 0 {
				s.data, s.dataErr = DecodeObject(s.e.Data)
			}
		}
		if s.dataErr != nil {
			return nil, false, fmt.Errorf("eventData: %v", s.dataErr)
		}
		root = s.data
	} else {
		if s.decoded&2 == 0 {
			s.decoded |= 2
			if len(s.e.Metadata) > 0 {
				m, err := DecodeObject(s.e.Metadata)
				if err != nil {
					return nil, false, fmt.Errorf("metadata: %v", err)
				}
				s.meta = m
			}
		}
		root = s.meta
	}
	if root == nil {
		root = map[string]any{}
	}
	var v any = root
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false, nil
		}
		if v, ok = m[k]; !ok {
			return nil, false, nil
		}
	}
	// A copy: the same event value may be put into the state twice, and
	// the state must never share structure with itself.
	return jsonv.Copy(v), true, nil
}

func (o *op) apply(state State, src *eventValues) error {
	switch o.kind {
	case "delete":
		state["deleted"] = true
		state["deletedAt"] = FormatTime(src.e.Timestamp)
		return nil
	case "unset":
		parent, ok := lookupParent(state, o.path)
		if ok {
			delete(parent, o.path[len(o.path)-1])
		}
		return nil
	}
	var v any
	if o.kind == "increment" && o.useBy {
		v = o.byNum
	} else {
		var ok bool
		var err error
		if v, ok, err = src.get(o.from, o.fromPath); err != nil || !ok {
			return err
		}
	}
	switch o.kind {
	case "merge":
		patch, ok := v.(map[string]any)
		if !ok {
			return fmt.Errorf("%s is %s, not an object", o.fromName(), kindOf(v))
		}
		if len(o.path) == 0 {
			MergePatch(state, patch)
			return nil
		}
		parent, err := makeParent(state, o.path)
		if err != nil {
			return err
		}
		k := o.path[len(o.path)-1]
		target, ok := parent[k].(map[string]any)
		if !ok {
			target = map[string]any{}
		}
		MergePatch(target, patch)
		parent[k] = target
	case "set":
		if len(o.path) == 0 {
			obj, ok := v.(map[string]any)
			if !ok {
				return fmt.Errorf("the root can only be set to an object; %s is %s", o.fromName(), kindOf(v))
			}
			clear(state)
			for k, x := range obj {
				state[k] = x
			}
			return nil
		}
		parent, err := makeParent(state, o.path)
		if err != nil {
			return err
		}
		parent[o.path[len(o.path)-1]] = v
	case "increment":
		step, ok := v.(json.Number)
		if !ok {
			return fmt.Errorf("%s is %s, not a number", o.fromName(), kindOf(v))
		}
		parent, err := makeParent(state, o.path)
		if err != nil {
			return err
		}
		k := o.path[len(o.path)-1]
		cur := json.Number("0")
		if x, ok := parent[k]; ok && x != nil {
			if cur, ok = x.(json.Number); !ok {
				return fmt.Errorf("the state holds %s there, not a number", kindOf(x))
			}
		}
		sum, err := addNumbers(cur, step)
		if err != nil {
			return err
		}
		parent[k] = sum
	case "append":
		parent, err := makeParent(state, o.path)
		if err != nil {
			return err
		}
		k := o.path[len(o.path)-1]
		var arr []any
		if x, ok := parent[k]; ok && x != nil {
			if arr, ok = x.([]any); !ok {
				return fmt.Errorf("the state holds %s there, not an array", kindOf(x))
			}
		}
		parent[k] = append(arr, v)
	}
	return nil
}

func (o *op) fromName() string {
	if len(o.fromPath) == 0 {
		return o.from
	}
	return o.from + "." + strings.Join(o.fromPath, ".")
}

// makeParent returns the object that holds path's last segment, making
// the objects on the way; a non-object on the way is an error.
func makeParent(state State, path []string) (map[string]any, error) {
	m := state
	for i, k := range path[:len(path)-1] {
		x, ok := m[k]
		if !ok || x == nil {
			n := map[string]any{}
			m[k] = n
			m = n
			continue
		}
		if m, ok = x.(map[string]any); !ok {
			return nil, fmt.Errorf("%s is %s, not an object", pathName(path[:i+1]), kindOf(x))
		}
	}
	return m, nil
}

// lookupParent is makeParent without making anything.
func lookupParent(state State, path []string) (map[string]any, bool) {
	m := state
	for _, k := range path[:len(path)-1] {
		var ok bool
		if m, ok = m[k].(map[string]any); !ok {
			return nil, false
		}
	}
	return m, true
}

func pathName(path []string) string {
	if len(path) == 0 {
		return "the root"
	}
	return "state." + strings.Join(path, ".")
}

func kindOf(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}

// addNumbers adds two JSON numbers: exactly when both are integers (of
// any size), in float64 otherwise.
func addNumbers(a, b json.Number) (json.Number, error) {
	x, err1 := strconv.ParseInt(string(a), 10, 64)
	y, err2 := strconv.ParseInt(string(b), 10, 64)
	if err1 == nil && err2 == nil {
		if s := x + y; (y >= 0) == (s >= x) {
			return json.Number(strconv.FormatInt(s, 10)), nil
		}
	}
	if isInteger(a) && isInteger(b) {
		var p, q big.Int
		if _, ok := p.SetString(string(a), 10); ok {
			if _, ok := q.SetString(string(b), 10); ok {
				return json.Number(p.Add(&p, &q).String()), nil
			}
		}
	}
	f, err := a.Float64()
	if err != nil {
		return "", fmt.Errorf("%q is not a number", a)
	}
	g, err := b.Float64()
	if err != nil {
		return "", fmt.Errorf("%q is not a number", b)
	}
	sum := f + g
	if math.IsInf(sum, 0) || math.IsNaN(sum) {
		return "", fmt.Errorf("%s + %s overflows", a, b)
	}
	return json.Number(strconv.FormatFloat(sum, 'g', -1, 64)), nil
}

// isInteger reports whether a JSON number has no fraction or exponent.
func isInteger(n json.Number) bool { return !strings.ContainsAny(string(n), ".eE") }
