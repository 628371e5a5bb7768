package schema

import (
	"encoding/json"
	"fmt"
	"strings"

	"eventd/engine/jsonv"
)

// op is a compiled Op.
type op struct {
	n        int // its index in the step, for messages
	kind     string
	path     []string
	from, to []string
	fromList [][]string // join
	toList   [][]string // split
	toName   string     // rename
	value    any
	values   map[string]any
	def      any
	hasDef   bool
	sep      string
	keep     bool
}

func compileOp(n int, o Op) (op, error) {
	c := op{n: n, kind: o.Op, keep: o.Keep}
	var err error
	need := func(what string, ok bool) error {
		if !ok {
			return fmt.Errorf("%s needs %s", o.Op, what)
		}
		return nil
	}
	forbid := map[string]bool{}
	switch o.Op {
	case "rename", "move", "copy":
		if c.from, err = pathField("from", o.From, true); err != nil {
			return c, err
		}
		if o.Op == "rename" {
			var to string
			if err := json.Unmarshal(o.To, &to); err != nil || to == "" || strings.Contains(to, ".") {
				return c, fmt.Errorf("rename needs \"to\": the new name of the member (no dots)")
			}
			c.toName = to
			c.to = append(append([]string(nil), c.from[:len(c.from)-1]...), to)
		} else if c.to, err = pathField("to", o.To, true); err != nil {
			return c, err
		}
		if isPrefix(c.from, c.to) || isPrefix(c.to, c.from) {
			return c, fmt.Errorf("%s from %q to %q: one path holds the other", o.Op, strings.Join(c.from, "."), strings.Join(c.to, "."))
		}
		forbid = map[string]bool{"path": o.Path != "", "value": o.Value != nil, "values": o.Values != nil, "default": o.Default != nil, "separator": o.Separator != nil, "keep": o.Keep}
	case "default", "set":
		if c.path, err = splitPath(o.Path); err != nil || len(c.path) == 0 {
			return c, fmt.Errorf("%s needs \"path\", a dotted path in eventData", o.Op)
		}
		if err := need("\"value\"", o.Value != nil); err != nil {
			return c, err
		}
		if c.value, err = jsonv.Decode(o.Value); err != nil {
			return c, fmt.Errorf("value: %v", err)
		}
		forbid = map[string]bool{"from": o.From != nil, "to": o.To != nil, "values": o.Values != nil, "default": o.Default != nil, "separator": o.Separator != nil, "keep": o.Keep}
	case "remove":
		if c.path, err = splitPath(o.Path); err != nil || len(c.path) == 0 {
			return c, fmt.Errorf("remove needs \"path\", a dotted path in eventData")
		}
		forbid = map[string]bool{"from": o.From != nil, "to": o.To != nil, "value": o.Value != nil, "values": o.Values != nil, "default": o.Default != nil, "separator": o.Separator != nil, "keep": o.Keep}
	case "map":
		if c.path, err = splitPath(o.Path); err != nil || len(c.path) == 0 {
			return c, fmt.Errorf("map needs \"path\", a dotted path in eventData")
		}
		if len(o.Values) == 0 {
			return c, fmt.Errorf("map needs \"values\", an object of old → new values")
		}
		c.values = make(map[string]any, len(o.Values))
		for k, raw := range o.Values {
			if c.values[k], err = jsonv.Decode(raw); err != nil {
				return c, fmt.Errorf("values.%s: %v", k, err)
			}
		}
		if o.Default != nil {
			c.hasDef = true
			if c.def, err = jsonv.Decode(o.Default); err != nil {
				return c, fmt.Errorf("default: %v", err)
			}
		}
		forbid = map[string]bool{"from": o.From != nil, "to": o.To != nil, "value": o.Value != nil, "separator": o.Separator != nil, "keep": o.Keep}
	case "split":
		if c.from, err = pathField("from", o.From, true); err != nil {
			return c, err
		}
		var to []string
		if err := json.Unmarshal(o.To, &to); err != nil || len(to) == 0 {
			return c, fmt.Errorf("split needs \"to\": a list of at least one dotted path")
		}
		for _, p := range to {
			segs, err := splitPath(p)
			if err != nil || len(segs) == 0 {
				return c, fmt.Errorf("split: to %q: not a dotted path", p)
			}
			c.toList = append(c.toList, segs)
		}
		if o.Separator == nil || *o.Separator == "" {
			return c, fmt.Errorf("split needs a non-empty \"separator\"")
		}
		c.sep = *o.Separator
		forbid = map[string]bool{"path": o.Path != "", "value": o.Value != nil, "values": o.Values != nil, "default": o.Default != nil}
	case "join":
		var from []string
		if err := json.Unmarshal(o.From, &from); err != nil || len(from) == 0 {
			return c, fmt.Errorf("join needs \"from\": a list of at least one dotted path")
		}
		for _, p := range from {
			segs, err := splitPath(p)
			if err != nil || len(segs) == 0 {
				return c, fmt.Errorf("join: from %q: not a dotted path", p)
			}
			c.fromList = append(c.fromList, segs)
		}
		if c.to, err = pathField("to", o.To, true); err != nil {
			return c, err
		}
		if o.Separator == nil {
			return c, fmt.Errorf("join needs \"separator\" (it may be empty)")
		}
		c.sep = *o.Separator
		forbid = map[string]bool{"path": o.Path != "", "value": o.Value != nil, "values": o.Values != nil, "default": o.Default != nil}
	case "":
		return c, fmt.Errorf("missing \"op\"")
	default:
		return c, fmt.Errorf("unknown op %q: want rename, default, remove, move, copy, set, map, split or join", o.Op)
	}
	for f, set := range forbid {
		if set {
			return c, fmt.Errorf("%s takes no %q", o.Op, f)
		}
	}
	return c, nil
}

// pathField reads a field that must be one dotted path (a JSON string).
func pathField(name string, raw json.RawMessage, required bool) ([]string, error) {
	var p string
	if raw == nil || json.Unmarshal(raw, &p) != nil || p == "" {
		return nil, fmt.Errorf("want %q: a dotted path in eventData", name)
	}
	segs, err := splitPath(p)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %v", name, p, err)
	}
	return segs, nil
}

func splitPath(p string) ([]string, error) {
	if p == "" {
		return nil, nil
	}
	segs := strings.Split(p, ".")
	for _, s := range segs {
		if s == "" {
			return nil, fmt.Errorf("empty path segment")
		}
	}
	return segs, nil
}

func isPrefix(a, b []string) bool {
	if len(a) > len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func name(p []string) string { return strings.Join(p, ".") }

// apply runs the op on data (an eventData object).
func (o *op) apply(data map[string]any) error {
	switch o.kind {
	case "rename", "move", "copy":
		v, ok, err := get(data, o.from)
		if err != nil || !ok {
			return err
		}
		if o.kind == "copy" {
			v = jsonv.Copy(v)
		} else {
			remove(data, o.from)
		}
		return put(data, o.to, v)
	case "default":
		if _, ok, err := get(data, o.path); err != nil || ok {
			return err
		}
		return put(data, o.path, jsonv.Copy(o.value))
	case "set":
		return put(data, o.path, jsonv.Copy(o.value))
	case "remove":
		remove(data, o.path)
		return nil
	case "map":
		v, ok, err := get(data, o.path)
		if err != nil || !ok {
			return err
		}
		key, ok := scalarText(v)
		if !ok {
			return fmt.Errorf("%s is %s: map takes a string, number or boolean", name(o.path), kindOf(v))
		}
		if nv, ok := o.values[key]; ok {
			return put(data, o.path, jsonv.Copy(nv))
		}
		if o.hasDef {
			return put(data, o.path, jsonv.Copy(o.def))
		}
		return nil
	case "split":
		v, ok, err := get(data, o.from)
		if err != nil || !ok {
			return err
		}
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("%s is %s: split takes a string", name(o.from), kindOf(v))
		}
		if !o.keep {
			remove(data, o.from)
		}
		for i, part := range strings.SplitN(s, o.sep, len(o.toList)) {
			if err := put(data, o.toList[i], part); err != nil {
				return err
			}
		}
		return nil
	case "join":
		var parts []string
		for _, p := range o.fromList {
			v, ok, err := get(data, p)
			if err != nil {
				return err
			}
			if !ok || v == nil {
				continue
			}
			s, ok := scalarText(v)
			if _, isBool := v.(bool); !ok || isBool {
				return fmt.Errorf("%s is %s: join takes strings and numbers", name(p), kindOf(v))
			}
			parts = append(parts, s)
		}
		if len(parts) == 0 {
			return nil
		}
		if !o.keep {
			for _, p := range o.fromList {
				remove(data, p)
			}
		}
		return put(data, o.to, strings.Join(parts, o.sep))
	}
	return nil
}

// get returns the value at path; a path through a non-object is an error.
func get(data map[string]any, path []string) (any, bool, error) {
	m := data
	for i, k := range path {
		v, ok := m[k]
		if !ok {
			return nil, false, nil
		}
		if i == len(path)-1 {
			return v, true, nil
		}
		if m, ok = v.(map[string]any); !ok {
			if v == nil {
				return nil, false, nil
			}
			return nil, false, fmt.Errorf("%s is %s, not an object", name(path[:i+1]), kindOf(v))
		}
	}
	return nil, false, nil
}

// put sets path to v, making objects on the way (a null on the way becomes
// an object); a non-object on the way is an error.
func put(data map[string]any, path []string, v any) error {
	m := data
	for i, k := range path[:len(path)-1] {
		x, ok := m[k]
		if !ok || x == nil {
			n := map[string]any{}
			m[k] = n
			m = n
			continue
		}
		if m, ok = x.(map[string]any); !ok {
			return fmt.Errorf("%s is %s, not an object", name(path[:i+1]), kindOf(x))
		}
	}
	m[path[len(path)-1]] = v
	return nil
}

// remove deletes path if it is there.
func remove(data map[string]any, path []string) {
	m := data
	for _, k := range path[:len(path)-1] {
		var ok bool
		if m, ok = m[k].(map[string]any); !ok {
			return
		}
	}
	delete(m, path[len(path)-1])
}

// scalarText is a string, or the JSON text of a number or boolean.
func scalarText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return string(x), true
	case bool:
		if x {
			return "true", true
		}
		return "false", true
	}
	return "", false
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
