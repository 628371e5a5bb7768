package schema

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/eventd/eventd/engine"
	"github.com/eventd/eventd/engine/jsonv"
)

func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.DiscardHandler))
	os.Exit(m.Run())
}

// def builds a definition from JSON, the way the API receives it.
func def(t testing.TB, typ, body string) Definition {
	t.Helper()
	d := Definition{EventType: typ}
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatal(err)
	}
	return d
}

func upcast(t testing.TB, r *Registry, typ string, v uint32, data string) (string, uint32, error) {
	t.Helper()
	out, ver, changed, err := r.Upcast(&engine.Event{Type: typ, SchemaVersion: v, Data: []byte(data)}, nil)
	if !changed && err == nil {
		return data, v, nil
	}
	if err != nil {
		return "", ver, err
	}
	// Members keep their order (new ones last); compare canonical forms.
	m, derr := jsonv.DecodeObject(out)
	if derr != nil {
		t.Fatalf("upcast output %s is not a JSON object: %v", out, derr)
	}
	canon, _ := jsonv.AppendObject(nil, m)
	return string(canon), ver, nil
}

func TestOps(t *testing.T) {
	r := New()
	ctx := context.Background()
	if _, _, _, err := r.Put(ctx, def(t, "Person", `{"currentVersion":3,"upcasters":[
		{"from":1,"to":2,"ops":[
			{"op":"rename","from":"name","to":"fullName"},
			{"op":"default","path":"country","value":"US"},
			{"op":"remove","path":"legacy"},
			{"op":"move","from":"a","to":"b.c"},
			{"op":"copy","from":"keep","to":"copied.k"},
			{"op":"set","path":"meta.source","value":{"v":1}},
			{"op":"map","path":"status","values":{"A":"active","1":"one","true":"yes"},"default":"other"}]},
		{"from":2,"to":3,"ops":[
			{"op":"split","from":"fullName","separator":" ","to":["first","last"]},
			{"op":"join","from":["first","last"],"separator":"_","to":"handle","keep":true},
			{"op":"rename","from":"b.c","to":"d"}]}]}`)); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		v          uint32
		data, want string
	}{
		{1, `{"name":"Ann Lee Ross","legacy":true,"a":5,"keep":1,"status":"A"}`,
			`{"b":{"d":5},"copied":{"k":1},"country":"US","first":"Ann","handle":"Ann_Lee Ross","keep":1,"last":"Lee Ross","meta":{"source":{"v":1}},"status":"active"}`},
		{1, `{"name":"Bo","country":"DE","status":1}`, `{"country":"DE","first":"Bo","handle":"Bo","meta":{"source":{"v":1}},"status":"one"}`},
		{1, `{"status":true}`, `{"country":"US","meta":{"source":{"v":1}},"status":"yes"}`},
		{1, `{"status":"zzz"}`, `{"country":"US","meta":{"source":{"v":1}},"status":"other"}`},
		{2, `{"fullName":"Cy Z","b":{"c":0}}`, `{"b":{"d":0},"first":"Cy","handle":"Cy_Z","last":"Z"}`},
		{3, `{"as":"stored"}`, `{"as":"stored"}`},
		{0, `{"name":"Dee"}`, `{"country":"US","first":"Dee","handle":"Dee","meta":{"source":{"v":1}}}`}, // 0 = 1
	} {
		got, ver, err := upcast(t, r, "Person", c.v, c.data)
		if err != nil || got != c.want || ver != 3 {
			t.Errorf("v%d %s:\n got v%d %s (%v)\nwant v3 %s", c.v, c.data, ver, got, err, c.want)
		}
	}
	// Wrong kinds in the data fail the read with a reason, never a panic.
	for _, data := range []string{`{"fullName":5}`, `{"b":"x","fullName":"A B"}`, `{"first":{"x":1}}`} {
		if _, _, err := upcast(t, r, "Person", 2, data); err == nil || !strings.Contains(err.Error(), "upcaster 2→3") {
			t.Errorf("%s: %v", data, err)
		}
	}
	if _, _, err := upcast(t, r, "Person", 1, `{"status":[1]}`); err == nil {
		t.Error("map of an array did not fail")
	}
	if _, _, err := upcast(t, r, "Person", 1, `not json`); err == nil {
		t.Error("bad stored data did not fail")
	}
	// Other types and current events are untouched.
	if _, _, changed, _ := r.Upcast(&engine.Event{Type: "Other", SchemaVersion: 1, Data: []byte(`{}`)}, nil); changed {
		t.Error("a type without a schema was upcast")
	}
}

func TestRegistrationRefuses(t *testing.T) {
	r := New()
	ctx := context.Background()
	for name, body := range map[string]string{
		"VersionZero":        `{"currentVersion":0}`,
		"MissingStep":        `{"currentVersion":3,"upcasters":[{"from":1,"to":2,"ops":[]}]}`,
		"StepOutOfOrder":     `{"currentVersion":3,"upcasters":[{"from":2,"to":3,"ops":[]},{"from":1,"to":2,"ops":[]}]}`,
		"StepSkips":          `{"currentVersion":2,"upcasters":[{"from":1,"to":3,"ops":[]}]}`,
		"UnknownOp":          `{"currentVersion":2,"upcasters":[{"from":1,"to":2,"ops":[{"op":"explode","path":"x"}]}]}`,
		"RenameWithDot":      `{"currentVersion":2,"upcasters":[{"from":1,"to":2,"ops":[{"op":"rename","from":"a","to":"b.c"}]}]}`,
		"MoveIntoItself":     `{"currentVersion":2,"upcasters":[{"from":1,"to":2,"ops":[{"op":"move","from":"a","to":"a.b"}]}]}`,
		"DefaultNoValue":     `{"currentVersion":2,"upcasters":[{"from":1,"to":2,"ops":[{"op":"default","path":"a"}]}]}`,
		"RemoveNoPath":       `{"currentVersion":2,"upcasters":[{"from":1,"to":2,"ops":[{"op":"remove"}]}]}`,
		"EmptySegment":       `{"currentVersion":2,"upcasters":[{"from":1,"to":2,"ops":[{"op":"remove","path":"a..b"}]}]}`,
		"ExtraField":         `{"currentVersion":2,"upcasters":[{"from":1,"to":2,"ops":[{"op":"remove","path":"a","value":1}]}]}`,
		"MapNoValues":        `{"currentVersion":2,"upcasters":[{"from":1,"to":2,"ops":[{"op":"map","path":"a"}]}]}`,
		"SplitNoSeparator":   `{"currentVersion":2,"upcasters":[{"from":1,"to":2,"ops":[{"op":"split","from":"a","to":["b"]}]}]}`,
		"SplitToNotList":     `{"currentVersion":2,"upcasters":[{"from":1,"to":2,"ops":[{"op":"split","from":"a","separator":" ","to":"b"}]}]}`,
		"JoinFromNotList":    `{"currentVersion":2,"upcasters":[{"from":1,"to":2,"ops":[{"op":"join","from":"a","separator":" ","to":"b"}]}]}`,
		"SplitOfNumberSet":   `{"currentVersion":2,"upcasters":[{"from":1,"to":2,"ops":[{"op":"set","path":"a","value":5},{"op":"split","from":"a","separator":" ","to":["b"]}]}]}`,
		"ThroughString":      `{"currentVersion":3,"upcasters":[{"from":1,"to":2,"ops":[{"op":"set","path":"a","value":"s"}]},{"from":2,"to":3,"ops":[{"op":"move","from":"x","to":"a.b"}]}]}`,
		"MapOfObjectSet":     `{"currentVersion":2,"upcasters":[{"from":1,"to":2,"ops":[{"op":"set","path":"a","value":{}},{"op":"map","path":"a","values":{"x":1}}]}]}`,
		"JoinOfBoolSet":      `{"currentVersion":2,"upcasters":[{"from":1,"to":2,"ops":[{"op":"set","path":"a","value":true},{"op":"join","from":["a"],"separator":"","to":"b"}]}]}`,
		"BadJSONSchema":      `{"currentVersion":1,"upcasters":[],"jsonSchema":{"type":"nope"}}`,
		"ExternalRefRefused": `{"currentVersion":1,"upcasters":[],"jsonSchema":{"$ref":"file:///etc/passwd"}}`,
	} {
		if _, _, _, err := r.Put(ctx, def(t, "T", body)); !errors.Is(err, ErrDefinition) {
			t.Errorf("%s: %v, want ErrDefinition", name, err)
		}
	}
	if _, _, _, err := r.Put(ctx, def(t, "1bad", `{"currentVersion":1}`)); !errors.Is(err, ErrDefinition) {
		t.Errorf("a bad event type: %v", err)
	}
	if len(r.List()) != 0 {
		t.Fatalf("refused registrations registered %v", r.List())
	}
	// currentVersion never goes down.
	if _, _, _, err := r.Put(ctx, def(t, "T", `{"currentVersion":2,"upcasters":[{"from":1,"to":2,"ops":[]}]}`)); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := r.Put(ctx, def(t, "T", `{"currentVersion":1}`)); !errors.Is(err, ErrVersionDown) {
		t.Fatalf("lowering currentVersion: %v", err)
	}
}

func TestJSONSchemaValidation(t *testing.T) {
	r := New()
	ctx := context.Background()
	if _, _, _, err := r.Put(ctx, def(t, "Invoice", `{"currentVersion":2,"upcasters":[{"from":1,"to":2,"ops":[{"op":"rename","from":"amt","to":"amount"}]}],
		"jsonSchema":{"type":"object","required":["amount","id"],"properties":{"amount":{"type":"number","minimum":0},"id":{"type":"string"}}}}`)); err != nil {
		t.Fatal(err)
	}
	check := func(v uint32, data string) error {
		return r.Validate("inv-1", &engine.Proposed{Type: "Invoice", SchemaVersion: v, Data: []byte(data)})
	}
	if err := check(2, `{"amount":5,"id":"x"}`); err != nil {
		t.Fatalf("a valid event: %v", err)
	}
	if err := check(1, `{"amt":"not checked at v1"}`); err != nil {
		t.Fatalf("an older version is not validated: %v", err)
	}
	var sv *engine.SchemaViolationError
	err := check(2, `{"amount":"five"}`)
	if !errors.As(err, &sv) || len(sv.Violations) < 2 {
		t.Fatalf("two violations: %v", err)
	}
	paths := map[string]bool{}
	for _, v := range sv.Violations {
		paths[v.Path] = true
	}
	if !paths["/amount"] || !paths[""] {
		t.Fatalf("violation paths %v (%v)", paths, err)
	}
	if err := check(3, `{}`); !errors.As(err, &sv) || !strings.Contains(sv.Violations[0].Message, "above the current version 2") {
		t.Fatalf("a version above the current one: %v", err)
	}
	if err := r.Validate("x", &engine.Proposed{Type: "Unknown", SchemaVersion: 9, Data: []byte(`{}`)}); err != nil {
		t.Fatalf("a type without a schema: %v", err)
	}
}

func TestRegistryDurableAndRevisions(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := engine.Open(dir, engine.Options{Fsync: engine.FsyncNever})
	if err != nil {
		t.Fatal(err)
	}
	r, err := Open(s)
	if err != nil {
		t.Fatal(err)
	}
	d := def(t, "Chained", `{"currentVersion":2,"upcasters":[{"from":1,"to":2,"ops":[{"op":"rename","from":"x","to":"y"}]}]}`)
	rev1, created, changed, err := r.Put(ctx, d)
	if err != nil || !created || !changed {
		t.Fatal(created, changed, err)
	}
	if rev, created, changed, err := r.Put(ctx, d); err != nil || created || changed || rev != rev1 {
		t.Fatalf("an identical put: %s %v %v %v", rev, created, changed, err)
	}
	withSchema := d
	withSchema.JSONSchema = json.RawMessage(`{"type":"object"}`)
	if rev, _, changed, err := r.Put(ctx, withSchema); err != nil || !changed || rev != rev1 {
		t.Fatalf("a JSON Schema alone keeps the chain's revision: %s %v %v", rev, changed, err)
	}
	d2 := def(t, "Chained", `{"currentVersion":3,"upcasters":[{"from":1,"to":2,"ops":[{"op":"rename","from":"x","to":"y"}]},{"from":2,"to":3,"ops":[{"op":"move","from":"y","to":"z.w"}]}]}`)
	rev2, _, _, err := r.Put(ctx, d2)
	if err != nil || rev2 == rev1 || r.Revision("Chained") != rev2 || r.Revision("None") != "" {
		t.Fatalf("a changed chain: %s %s %v", rev1, rev2, err)
	}
	if info, _ := s.Stream(Stream); info.Version != 3 {
		t.Fatalf("$schemas holds %d events, want 3", info.Version)
	}
	s.Close()
	s, err = engine.Open(dir, engine.Options{Fsync: engine.FsyncNever})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	r, err = Open(s)
	if err != nil {
		t.Fatal(err)
	}
	e, ok := r.Get("Chained")
	if !ok || e.Revision != rev2 || e.Definition.CurrentVersion != 3 {
		t.Fatalf("after a restart: %+v", e)
	}
	if got, v, err := upcast(t, r, "Chained", 1, `{"x":1}`); err != nil || v != 3 || got != `{"z":{"w":1}}` {
		t.Fatalf("upcast after a restart: %s v%d %v", got, v, err)
	}
}
