package schema

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/eventd/eventd/engine"
	"github.com/eventd/eventd/engine/jsonv"
)

// applyModel is the reference semantics of an op on decoded data (maps):
// what the tree must give, member order aside.
func (o *op) applyModel(data map[string]any) error {
	switch o.kind {
	case "rename", "move", "copy":
		v, ok, err := mget(data, o.from)
		if err != nil || !ok {
			return err
		}
		if o.kind == "copy" {
			v = jsonv.Copy(v)
		} else {
			mremove(data, o.from)
		}
		return mput(data, o.to, v)
	case "default":
		if _, ok, err := mget(data, o.path); err != nil || ok {
			return err
		}
		return mput(data, o.path, jsonv.Copy(o.value))
	case "set":
		return mput(data, o.path, jsonv.Copy(o.value))
	case "remove":
		mremove(data, o.path)
		return nil
	case "map":
		v, ok, err := mget(data, o.path)
		if err != nil || !ok {
			return err
		}
		key, ok := scalarText(v)
		if !ok {
			return fmt.Errorf("%s is %s: map takes a string, number or boolean", name(o.path), kindOf(v))
		}
		if nv, ok := o.values[key]; ok {
			return mput(data, o.path, jsonv.Copy(nv))
		}
		if o.hasDef {
			return mput(data, o.path, jsonv.Copy(o.def))
		}
		return nil
	case "split":
		v, ok, err := mget(data, o.from)
		if err != nil || !ok {
			return err
		}
		s, ok := v.(string)
		if !ok {
			return fmt.Errorf("%s is %s: split takes a string", name(o.from), kindOf(v))
		}
		if !o.keep {
			mremove(data, o.from)
		}
		for i, part := range strings.SplitN(s, o.sep, len(o.toList)) {
			if err := mput(data, o.toList[i], part); err != nil {
				return err
			}
		}
		return nil
	case "join":
		var parts []string
		for _, p := range o.fromList {
			v, ok, err := mget(data, p)
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
				mremove(data, p)
			}
		}
		return mput(data, o.to, strings.Join(parts, o.sep))
	}
	return nil
}

// get returns the value at path; a path through a non-object is an error.
func mget(data map[string]any, path []string) (any, bool, error) {
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
func mput(data map[string]any, path []string, v any) error {
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
func mremove(data map[string]any, path []string) {
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

// modelUpcast runs a type's steps with the reference semantics.
func modelUpcast(ts *typeSchema, v uint32, data []byte) (string, error) {
	m, err := jsonv.DecodeObject(data)
	if err != nil {
		return "", err
	}
	for ; v < ts.def.CurrentVersion; v++ {
		for i := range ts.steps[v-1] {
			if err := ts.steps[v-1][i].applyModel(m); err != nil {
				return "", err
			}
		}
	}
	b, err := jsonv.AppendObject(nil, m)
	return string(b), err
}

var treeChain = `{"currentVersion":4,"upcasters":[
	{"from":1,"to":2,"ops":[{"op":"rename","from":"a","to":"b"},{"op":"default","path":"c.d","value":[1,{"x":null}]},{"op":"move","from":"e","to":"f.g"},{"op":"copy","from":"f","to":"h"}]},
	{"from":2,"to":3,"ops":[{"op":"map","path":"s","values":{"A":"active","1":2,"true":false},"default":"?"},{"op":"split","from":"n","separator":" ","to":["n1","n2.x"]},{"op":"remove","path":"r.q"}]},
	{"from":3,"to":4,"ops":[{"op":"join","from":["n1","n2.x","k"],"separator":"-","to":"joined","keep":true},{"op":"set","path":"b.z","value":"set"},{"op":"rename","from":"h.g","to":"gg"}]}]}`

// The tree gives the reference semantics on any data: same result (member
// order aside), same verdict.
func FuzzTreeMatchesModel(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"e":{"y":2},"s":"A","n":"Ann Lee Ross","r":{"q":1,"w":2},"k":5}`,
		`{"a":{"deep":[1,2]},"b":"replaced","c":null,"s":1,"n":"x"}`,
		`{"a\u0061":1,"s":true,"n":5}`, `{"a":1,"a":2,"f":"str","e":3}`, `{"b":"s","n":"one two"}`,
		`{"\u0061":{"x":1},"e":1,"\u0065":2,"n\u0031":"a b","n":"c d"}`, `{"s\u0000":1,"b":{"z":0},"f":{"g":"h"},"h":5}`,
		`{}`, `{"c":{"d":"kept"},"h":{"g":1}}`, ` { "a" : "spaced" , "e" : { "y" : [ 1 , 2 ] } } `, `{"r":"notobj"}`, `{"n2":5,"n":"a b"}`,
	} {
		f.Add([]byte(s), uint32(1))
	}
	r := New()
	d := Definition{EventType: "T"}
	if err := json.Unmarshal([]byte(treeChain), &d); err != nil {
		f.Fatal(err)
	}
	ts, err := compile(d)
	if err != nil {
		f.Fatal(err)
	}
	r.install(ts)
	f.Fuzz(func(t *testing.T, data []byte, v uint32) {
		v = 1 + v%4
		if _, err := jsonv.DecodeObject(data); err != nil {
			return // stored eventData is always a valid object
		}
		want, werr := modelUpcast(ts, v, data)
		out, _, changed, gerr := r.Upcast(&engine.Event{Type: "T", SchemaVersion: v, Data: data}, nil)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("%s v%d: model err %v, tree err %v", data, v, werr, gerr)
		}
		if werr != nil {
			return
		}
		if !changed {
			out = data
		}
		m, err := jsonv.DecodeObject(out)
		if err != nil {
			t.Fatalf("%s v%d: tree wrote %s: %v", data, v, out, err)
		}
		got, _ := jsonv.AppendObject(nil, m)
		if string(got) != want {
			t.Fatalf("%s v%d:\n tree  %s\n model %s", data, v, got, want)
		}
	})
}

// The tree keeps member order and the stored bytes of what no op touches.
func TestTreeKeepsOrderAndBytes(t *testing.T) {
	r := New()
	if _, _, _, err := r.Put(nil, def(t, "O", `{"currentVersion":2,"upcasters":[{"from":1,"to":2,"ops":[
		{"op":"rename","from":"name","to":"fullName"},{"op":"default","path":"added","value":1}]}]}`)); err != nil {
		t.Fatal(err)
	}
	in := `{"z":1,"name":"Ann","nested":{ "kept" : [1, 2.50] },"a":"\u00e9"}`
	out, _, _, err := r.Upcast(&engine.Event{Type: "O", SchemaVersion: 1, Data: []byte(in)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"z":1,"fullName":"Ann","nested":{ "kept" : [1, 2.50] },"a":"\u00e9","added":1}`; string(out) != want {
		t.Fatalf("got  %s\nwant %s", out, want)
	}
	if _, _, _, err := r.Upcast(&engine.Event{Type: "O", SchemaVersion: 1, Data: []byte(`[1]`)}, nil); err == nil || !strings.Contains(err.Error(), "not a JSON object") {
		t.Fatalf("an array: %v", err)
	}
	_ = fmt.Sprint
}

// Keys stored with needless escapes are the members they spell, also after
// an op replaced their value, and the last of duplicate keys wins (found
// by a review).
func TestTreeEscapedKeys(t *testing.T) {
	r := New()
	if _, _, _, err := r.Put(context.Background(), def(t, "E", `{"currentVersion":3,"upcasters":[
		{"from":1,"to":2,"ops":[{"op":"set","path":"name","value":"y"}]},
		{"from":2,"to":3,"ops":[{"op":"rename","from":"name","to":"fullName"},{"op":"default","path":"n\u0061me","value":"d"}]}]}`)); err != nil {
		t.Fatal(err)
	}
	for data, want := range map[string]string{
		`{"name":"x"}`:                  `{"fullName":"y","name":"d"}`,
		`{"n\u0061me":"x"}`:             `{"fullName":"y","name":"d"}`,
		`{"name":1,"n\u0061me":"last"}`: `{"fullName":"y","name":"d"}`,
	} {
		got, _, err := upcast(t, r, "E", 1, data)
		if err != nil || got != want {
			t.Errorf("stored %s: got %s (%v), want %s", data, got, err, want)
		}
	}
	m := New()
	if _, _, _, err := m.Put(context.Background(), def(t, "K", `{"currentVersion":2,"upcasters":[{"from":1,"to":2,"ops":[{"op":"remove","path":"zz"}]}]}`)); err != nil {
		t.Fatal(err)
	}
	if got, _, err := upcast(t, m, "K", 1, `{"a":1,"\u0061":2}`); err != nil || got != `{"a":2}` {
		t.Errorf("duplicate keys: got %s (%v), want the last", got, err)
	}
}
