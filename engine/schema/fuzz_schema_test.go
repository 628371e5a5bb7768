package schema

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/eventd/eventd/engine"
	"github.com/eventd/eventd/engine/jsonv"
)

// FuzzUpcastOps: any definition (current version and upcaster op lists,
// as the API receives them) registers or fails with ErrDefinition; a
// registered chain upcasts any stored object from any older version
// without panicking, leaves the stored bytes alone, and gives a JSON
// object at the current version, the same one every time whatever buffer
// it is given. Seeds: testdata/fuzz.
func FuzzUpcastOps(f *testing.F) {
	f.Add([]byte(`{"currentVersion":2,"upcasters":[{"from":1,"to":2,"ops":[{"op":"rename","from":"name","to":"fullName"}]}]}`), []byte(`{"name":"Ann"}`), uint8(0))
	f.Fuzz(func(t *testing.T, body, data []byte, from uint8) {
		d := Definition{EventType: "Fuzzed"}
		if err := json.Unmarshal(body, &d); err != nil {
			return // not a definition's shape: the server refuses it first
		}
		d.EventType = "Fuzzed"
		r := New()
		if _, _, _, err := r.Put(context.Background(), d); err != nil {
			if !errors.Is(err, ErrDefinition) {
				t.Fatalf("Put: %v does not wrap ErrDefinition", err)
			}
			return
		}
		if _, err := jsonv.DecodeObject(data); err != nil {
			data = []byte(`{"a":1,"b":"x y","c":{"d":[1,2]},"n":null}`)
		}
		cur := d.CurrentVersion
		if cur <= 1 {
			return
		}
		stored := bytes.Clone(data)
		e := &engine.Event{Type: "Fuzzed", SchemaVersion: 1 + uint32(from)%(cur-1), Data: data}
		out, v, changed, err := r.Upcast(e, nil)
		if !bytes.Equal(e.Data, stored) {
			t.Fatalf("Upcast changed the stored bytes: %s became %s", stored, e.Data)
		}
		if err != nil {
			return // an event this chain cannot upcast: the read fails with ErrUpcast
		}
		if !changed || v != cur {
			t.Fatalf("upcast from %d: changed %v, version %d, want %d", e.SchemaVersion, changed, v, cur)
		}
		if _, err := jsonv.DecodeObject(out); err != nil {
			t.Fatalf("upcast output %s is not a JSON object: %v", out, err)
		}
		junk := bytes.Repeat([]byte("#"), 64)
		again, _, _, err := r.Upcast(e, junk[:3])
		if err != nil || !bytes.Equal(again[3:], out) || string(again[:3]) != "###" {
			t.Fatalf("upcast again into a used buffer: %q (%v), first %s", again, err, out)
		}
		// At the current version nothing changes.
		if _, _, changed, err := r.Upcast(&engine.Event{Type: "Fuzzed", SchemaVersion: cur, Data: out}, nil); changed || err != nil {
			t.Fatalf("an event at the current version was upcast: %v %v", changed, err)
		}
	})
}

// FuzzJSONSchema: any jsonSchema registers or fails with ErrDefinition,
// validation of any object either passes or is a *SchemaViolationError
// with at least one violation, and nothing is ever loaded from outside the
// schema: "FUZZHOST" and "FUZZFILE" in an input become the address of a
// local HTTP server and the path of a local schema file, and the server
// must never be asked for anything. Seeds: testdata/fuzz.
func FuzzJSONSchema(f *testing.F) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte(`{"type":"object"}`))
	}))
	f.Cleanup(srv.Close)
	file := filepath.Join(f.TempDir(), "ext.json")
	if err := os.WriteFile(file, []byte(`{"type":"object"}`), 0o644); err != nil {
		f.Fatal(err)
	}
	host := strings.TrimPrefix(srv.URL, "http://")
	f.Add([]byte(`{"type":"object","properties":{"a":{"$ref":"http://FUZZHOST/s.json"}}}`), []byte(`{"a":1}`))
	f.Fuzz(func(t *testing.T, sch, inst []byte) {
		sch = bytes.ReplaceAll(sch, []byte("FUZZHOST"), []byte(host))
		sch = bytes.ReplaceAll(sch, []byte("FUZZFILE"), []byte(file))
		r := New()
		_, _, _, err := r.Put(context.Background(), Definition{EventType: "Fuzzed", CurrentVersion: 1, JSONSchema: sch})
		if n := hits.Load(); n > 0 {
			t.Fatalf("compiling %s fetched %d URLs", sch, n)
		}
		if err != nil {
			if !errors.Is(err, ErrDefinition) {
				t.Fatalf("Put: %v does not wrap ErrDefinition", err)
			}
			return
		}
		if bytes.Contains(sch, []byte(file)) && bytes.Contains(sch, []byte(`"$ref"`)) && refersOutside(sch) {
			t.Fatalf("a schema referring to %s compiled: %s", file, sch)
		}
		if _, err := jsonv.DecodeObject(inst); err != nil {
			inst = []byte(`{"a":1}`)
		}
		err = r.Validate("s-1", &engine.Proposed{Type: "Fuzzed", SchemaVersion: 1, Data: inst})
		var sv *engine.SchemaViolationError
		if err != nil && (!errors.As(err, &sv) || len(sv.Violations) == 0) {
			t.Fatalf("Validate: %v, want nil or a *SchemaViolationError with violations", err)
		}
		if hits.Load() > 0 {
			t.Fatalf("validating against %s fetched a URL", sch)
		}
	})
}

// refersOutside reports whether a schema has a "$ref" whose value is the
// file URL (a compiled one would have loaded it).
func refersOutside(sch []byte) bool {
	var v any
	if json.Unmarshal(sch, &v) != nil {
		return false
	}
	// Only schema positions count: a "$ref" inside an unknown keyword's
	// value is plain data, never resolved (the fuzzer found
	// {"":{"":{"$ref":"/file"}}}, which compiles and loads nothing).
	one := map[string]bool{"not": true, "items": true, "additionalProperties": true, "additionalItems": true,
		"contains": true, "propertyNames": true, "if": true, "then": true, "else": true,
		"unevaluatedProperties": true, "unevaluatedItems": true, "contentSchema": true}
	many := map[string]bool{"allOf": true, "anyOf": true, "oneOf": true, "prefixItems": true, "items": true}
	named := map[string]bool{"properties": true, "patternProperties": true, "$defs": true, "definitions": true,
		"dependentSchemas": true, "dependencies": true}
	var walk func(any) bool
	walk = func(v any) bool {
		x, ok := v.(map[string]any)
		if !ok {
			return false
		}
		if s, ok := x["$ref"].(string); ok && (strings.HasPrefix(s, "file:") || strings.HasPrefix(s, "/")) {
			return true
		}
		for k, c := range x {
			switch {
			case one[k] && walk(c):
				return true
			case many[k]:
				if arr, ok := c.([]any); ok {
					for _, e := range arr {
						if walk(e) {
							return true
						}
					}
				}
			case named[k]:
				if m, ok := c.(map[string]any); ok {
					for _, e := range m {
						if walk(e) {
							return true
						}
					}
				}
			}
		}
		return false
	}
	return walk(v)
}

// TestJSONSchemaLoadsNothing: $ref and $schema pointing to files or URLs
// are refused at registration, and nothing is fetched.
func TestJSONSchemaLoadsNothing(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte(`{"type":"object"}`))
	}))
	defer srv.Close()
	file := filepath.Join(t.TempDir(), "ext.json")
	if err := os.WriteFile(file, []byte(`{"type":"object"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		`{"$ref":"` + srv.URL + `/a.json"}`,
		`{"properties":{"a":{"$ref":"` + srv.URL + `/a.json#/x"}}}`,
		`{"$schema":"` + srv.URL + `/meta.json"}`,
		`{"$id":"` + srv.URL + `/root.json","$ref":"other.json"}`,
		`{"$ref":"file://` + file + `"}`,
		`{"$ref":"` + file + `"}`,
		`{"$id":"file://` + filepath.Dir(file) + `/","$ref":"ext.json"}`,
		`{"$dynamicRef":"` + srv.URL + `/d.json"}`,
		`{"$schema":"http://json-schema.org/draft-04/schema#","$ref":"` + srv.URL + `/a.json"}`,
	} {
		_, _, _, err := New().Put(context.Background(), Definition{EventType: "T", CurrentVersion: 1, JSONSchema: json.RawMessage(s)})
		if !errors.Is(err, ErrDefinition) {
			t.Errorf("%s: %v, want ErrDefinition", s, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("%d requests reached the server", n)
	}
}
