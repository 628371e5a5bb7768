package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eventd/eventd/engine/schema"
)

func newSchemaEnv(t *testing.T) *testEnv {
	t.Helper()
	e := newEnv(t, Config{})
	reg, err := schema.Open(e.store)
	if err != nil {
		t.Fatal(err)
	}
	e.srv.cfg.Schemas = reg
	e.store.SetUpcaster(reg)
	e.store.SetValidator(reg)
	return e
}

func TestSchemasAPI(t *testing.T) {
	e := newSchemaEnv(t)
	e.add("person-1", "PersonRegistered", M{"name": "Ann", "legacy": true, "a": 5})
	body := M{"currentVersion": 2, "upcasters": []any{M{"from": 1, "to": 2, "ops": []any{
		M{"op": "rename", "from": "name", "to": "fullName"},
		M{"op": "default", "path": "country", "value": "US"},
		M{"op": "remove", "path": "legacy"},
		M{"op": "move", "from": "a", "to": "b.c"},
	}}}}
	r := e.put("/api/schemas/PersonRegistered", body).ok(t, 201)
	rev := r["revision"]
	if num(t, r["currentVersion"]) != 2 || r["eventType"] != "PersonRegistered" || rev == "" || r["jsonSchema"] != nil {
		t.Fatalf("put answer %v", r)
	}
	if r := e.put("/api/schemas/PersonRegistered", body).ok(t, 200); r["revision"] != rev {
		t.Fatalf("an identical put changed the revision: %v", r)
	}
	want := `{"b":{"c":5},"country":"US","fullName":"Ann"}`
	evs := arr(t, e.get("/api/events/person-1").ok(t, 200)["events"])
	ev := obj(t, evs[0])
	if num(t, ev["schemaVersion"]) != 2 || jsonOf(t, ev["eventData"]) != want {
		t.Fatalf("read upcast: %v", ev)
	}
	stored := obj(t, arr(t, e.get("/api/events/person-1?upcast=false").ok(t, 200)["events"])[0])
	if num(t, stored["schemaVersion"]) != 1 || obj(t, stored["eventData"])["name"] != "Ann" {
		t.Fatalf("read as stored: %v", stored)
	}
	all := obj(t, arr(t, e.get("/api/all?eventTypes=PersonRegistered").ok(t, 200)["events"])[0])
	if jsonOf(t, all["eventData"]) != want {
		t.Fatalf("$all upcast: %v", all)
	}
	if st := obj(t, e.post("/api/events/person-1/replay", M{}).ok(t, 200)["finalState"]); st["fullName"] != "Ann" || st["name"] != nil {
		t.Fatalf("replay upcast: %v", st)
	}
	list := arr(t, e.get("/api/schemas").ok(t, 200)["schemas"])
	if len(list) != 1 || obj(t, list[0])["eventType"] != "PersonRegistered" {
		t.Fatalf("list %v", list)
	}
	if got := e.get("/api/schemas/PersonRegistered").ok(t, 200); len(arr(t, got["upcasters"])) != 1 {
		t.Fatalf("get %v", got)
	}
	e.get("/api/schemas/NoSuchType").fail(t, 404, codeNotFound)
	e.get("/api/schemas/1bad").fail(t, 400, codeInvalidEventType)
}

func TestSchemaValidationOnAppend(t *testing.T) {
	e := newSchemaEnv(t)
	e.put("/api/schemas/Payment", M{"currentVersion": 1, "jsonSchema": M{"type": "object", "required": []any{"amount"},
		"properties": M{"amount": M{"type": "number"}}}}).ok(t, 201)
	e.add("pay-1", "Payment", M{"amount": 5})
	head := e.store.Head()
	f := e.post("/api/events", M{"streamId": "pay-1", "eventType": "Payment", "eventData": M{"amount": "five"}}).fail(t, 422, codeSchemaViolation)
	d := obj(t, f["details"])
	vs := arr(t, d["violations"])
	if d["eventType"] != "Payment" || num(t, d["event"]) != 0 || obj(t, vs[0])["path"] != "/amount" {
		t.Fatalf("details %v", d)
	}
	f = e.post("/api/streams/pay-2/events", M{"events": []any{
		M{"eventType": "Payment", "eventData": M{"amount": 1}}, M{"eventType": "Payment", "eventData": M{}}}}).fail(t, 422, codeSchemaViolation)
	if num(t, obj(t, f["details"])["event"]) != 1 {
		t.Fatalf("batch details %v", f["details"])
	}
	e.post("/api/events", M{"streamId": "pay-1", "eventType": "Payment", "eventData": M{"amount": 1}, "schemaVersion": 2}).fail(t, 422, codeSchemaViolation)
	if e.store.Head() != head {
		t.Fatal("refused appends wrote events")
	}
}

func TestSchemasBadInput(t *testing.T) {
	e := newSchemaEnv(t)
	e.put("/api/schemas/T", M{"currentVersion": 2, "upcasters": []any{M{"from": 1, "to": 2, "ops": []any{}}}}).ok(t, 201)
	head := e.store.Head()
	for name, c := range map[string]struct {
		path string
		body any
	}{
		"NoVersion":     {"/api/schemas/A", M{"upcasters": []any{}}},
		"BadType":       {"/api/schemas/1A", M{"currentVersion": 1}},
		"UnknownField":  {"/api/schemas/A", M{"currentVersion": 1, "upcaster": []any{}}},
		"UnknownOpKey":  {"/api/schemas/A", M{"currentVersion": 2, "upcasters": []any{M{"from": 1, "to": 2, "ops": []any{M{"op": "remove", "pth": "x"}}}}}},
		"UnknownOp":     {"/api/schemas/A", M{"currentVersion": 2, "upcasters": []any{M{"from": 1, "to": 2, "ops": []any{M{"op": "explode", "path": "x"}}}}}},
		"GapInChain":    {"/api/schemas/A", M{"currentVersion": 3, "upcasters": []any{M{"from": 1, "to": 2, "ops": []any{}}}}},
		"VersionString": {"/api/schemas/A", M{"currentVersion": "2"}},
		"BadJSONSchema": {"/api/schemas/A", M{"currentVersion": 1, "jsonSchema": M{"type": 5}}},
		"LowerVersion":  {"/api/schemas/T", M{"currentVersion": 1}},
		"NotJSON":       {"/api/schemas/A", `{"currentVersion":`},
	} {
		r := e.put(c.path, c.body)
		if r.status != 400 || r.v["success"] != false {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	if e.store.Head() != head {
		t.Fatal("refused registrations wrote events")
	}
	e.get("/api/schemas/A").fail(t, 404, codeNotFound)
}

// A stored event the chain cannot upcast fails that read with 422 naming
// it; upcast=false still reads it.
func TestUpcastFailureIsAClearError(t *testing.T) {
	e := newSchemaEnv(t)
	e.add("s-1", "Named", M{"full": 5})
	e.put("/api/schemas/Named", M{"currentVersion": 2, "upcasters": []any{M{"from": 1, "to": 2, "ops": []any{
		M{"op": "split", "from": "full", "separator": " ", "to": []any{"first", "last"}}}}}}).ok(t, 201)
	f := e.get("/api/events/s-1").fail(t, 422, codeSchemaViolation)
	if !strings.Contains(f["error"].(string), "split") || num(t, obj(t, f["details"])["position"]) != 1 {
		t.Fatalf("read error %v", f)
	}
	e.get("/api/events/s-1?upcast=false").ok(t, 200)
	// A subscription that meets it says so and ends (it once spun on
	// heartbeats for ever).
	for _, path := range []string{"/api/streams/s-1/subscribe?fromVersion=0", "/api/subscribe?fromPosition=0"} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		req, _ := http.NewRequestWithContext(ctx, "GET", e.ts.URL+path, nil)
		res, err := e.hc.Do(req)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		cancel()
		if err != nil || !strings.Contains(string(body), "event: error") || !strings.Contains(string(body), "split") || strings.Count(string(body), "heartbeat") > 1 {
			t.Fatalf("%s: %v\n%s", path, err, body)
		}
	}
}

// jsonOf encodes a decoded value again, keys sorted.
func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
