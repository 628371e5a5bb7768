package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/eventd/eventd/engine/jsonv"
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

	// For the tree (tree.go): paths with their raw keys, constants as JSON.
	pathP, fromP, toP  *path
	fromListP, toListP []*path
	valueRaw, defRaw   []byte
	valuesRaw          map[string][]byte
}

// prepare fills the tree forms of a checked op.
func (o *op) prepare() error {
	if o.path != nil {
		o.pathP = newPath(o.path)
	}
	if o.from != nil {
		o.fromP = newPath(o.from)
	}
	if o.to != nil {
		o.toP = newPath(o.to)
	}
	for _, p := range o.fromList {
		o.fromListP = append(o.fromListP, newPath(p))
	}
	for _, p := range o.toList {
		o.toListP = append(o.toListP, newPath(p))
	}
	var err error
	if o.value != nil || o.kind == "set" || o.kind == "default" {
		if o.valueRaw, err = jsonv.Append(nil, o.value); err != nil {
			return err
		}
	}
	if o.hasDef {
		if o.defRaw, err = jsonv.Append(nil, o.def); err != nil {
			return err
		}
	}
	if o.values != nil {
		o.valuesRaw = make(map[string][]byte, len(o.values))
		for k, v := range o.values {
			if o.valuesRaw[k], err = jsonv.Append(nil, v); err != nil {
				return err
			}
		}
	}
	return nil
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

// apply runs the op on the tree of an eventData object.
func (o *op) apply(t *tree) error {
	switch o.kind {
	case "rename", "move", "copy":
		m, err := t.get(o.fromP)
		if err != nil || m == none {
			return err
		}
		if o.kind == "rename" {
			parent, _ := t.walk(o.fromP, false)
			if other := t.find(parent, o.toP.last(), o.toName); other != none && other != m {
				t.unlink(parent, other) // the new name replaces a member of that name
			}
			t.nodes[m].key, t.nodes[m].esc = o.toP.last(), bytes.IndexByte(o.toP.last(), '\\') >= 0
			return nil
		}
		if o.kind == "copy" {
			m = t.value(t.encode(nil, m))
		} else if err := t.remove(o.fromP); err != nil {
			return err
		}
		return t.put(o.toP, m)
	case "default":
		m, err := t.get(o.pathP)
		if err != nil || m != none {
			return err
		}
		return t.put(o.pathP, t.value(o.valueRaw))
	case "set":
		return t.put(o.pathP, t.value(o.valueRaw))
	case "remove":
		return t.remove(o.pathP)
	case "map":
		m, err := t.get(o.pathP)
		if err != nil || m == none {
			return err
		}
		key, ok := t.text(m)
		if !ok {
			return fmt.Errorf("%s is %s: map takes a string, number or boolean", name(o.path), t.kind(m))
		}
		if nv, ok := o.valuesRaw[key]; ok {
			return t.put(o.pathP, t.value(nv))
		}
		if o.hasDef {
			return t.put(o.pathP, t.value(o.defRaw))
		}
		return nil
	case "split":
		m, err := t.get(o.fromP)
		if err != nil || m == none {
			return err
		}
		s, ok := t.text(m)
		if !ok || firstByte(t.nodes[m].raw) != '"' {
			return fmt.Errorf("%s is %s: split takes a string", name(o.from), t.kind(m))
		}
		if !o.keep {
			if err := t.remove(o.fromP); err != nil {
				return err
			}
		}
		for i, part := range strings.SplitN(s, o.sep, len(o.toListP)) {
			if err := t.put(o.toListP[i], t.value(jsonv.AppendString(nil, part))); err != nil {
				return err
			}
		}
		return nil
	case "join":
		var parts []string
		for _, p := range o.fromListP {
			m, err := t.get(p)
			if err != nil {
				return err
			}
			if m == none || t.isNull(m) {
				continue
			}
			s, ok := t.text(m)
			if c := firstByte(t.nodes[m].raw); !ok || c == 't' || c == 'f' {
				return fmt.Errorf("%s is %s: join takes strings and numbers", name(p.plain), t.kind(m))
			}
			parts = append(parts, s)
		}
		if len(parts) == 0 {
			return nil
		}
		if !o.keep {
			for _, p := range o.fromListP {
				if err := t.remove(p); err != nil {
					return err
				}
			}
		}
		return t.put(o.toP, t.value(jsonv.AppendString(nil, strings.Join(parts, o.sep))))
	}
	return nil
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
