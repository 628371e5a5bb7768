package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventd/eventd/engine"
	"github.com/eventd/eventd/engine/derived"
	"github.com/eventd/eventd/engine/projection"
	"github.com/eventd/eventd/engine/reducer"
)

// newProjectionEnv is newEnv with a projection manager wired in (cfg's
// Projections and Reducers are set here).
func newProjectionEnv(t *testing.T, cfg Config) (*testEnv, *projection.Manager) {
	t.Helper()
	dir := t.TempDir()
	st, err := engine.Open(dir, engine.Options{Fsync: engine.FsyncNever, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	db, err := derived.Open(filepath.Join(dir, "projections"), nil, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Reducers == nil {
		cfg.Reducers = reducer.NewRegistry()
	}
	cfg.Reducers.Register(flaky{}, "")
	m, err := projection.Open(db, st, cfg.Reducers, projection.Options{Logger: discardLogger(), FlushInterval: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Projections, cfg.Logger = m, discardLogger()
	srv := New(st, cfg)
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		srv.CloseStreams()
		ts.Close()
		for _, err := range []error{m.Close(), db.Close(), st.Close()} {
			if err != nil {
				t.Error(err)
			}
		}
	})
	return &testEnv{t: t, store: st, srv: srv, ts: ts, hc: &http.Client{Timeout: 30 * time.Second}}, m
}

// flaky is a reducer that fails on events of type Bad while flakyFails is set.
type flaky struct{}

var flakyFails atomic.Bool

func (flaky) Name() string     { return "flaky" }
func (flaky) Revision() string { return "1" }
func (flaky) Apply(st reducer.State, e *engine.Event) (reducer.State, error) {
	if e.Type == "Bad" && flakyFails.Load() {
		return nil, fmt.Errorf("%w: cannot take a Bad event", reducer.ErrApply)
	}
	return reducer.Default.Apply(st, e)
}

// waitFor waits until projection id has processed pos.
func waitFor(t *testing.T, m *projection.Manager, id string, pos uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.Wait(ctx, id, pos); err != nil {
		t.Fatalf("%s did not reach %d: %v", id, pos, err)
	}
}

func positionOf(t *testing.T, d map[string]any) uint64 { return uint64(num(t, d["position"])) }

// projectionFields are the fields every projection answer has.
var projectionFields = []string{"id", "name", "kind", "eventTypes", "streamPrefix", "keyBy", "reducer", "startFrom", "status",
	"lastProcessedPosition", "headPosition", "lag", "eventsProcessed", "error", "createdAt", "updatedAt"}

func checkProjection(t *testing.T, p map[string]any) {
	t.Helper()
	for _, f := range projectionFields {
		if _, ok := p[f]; !ok {
			t.Fatalf("projection without %q: %v", f, p)
		}
	}
	if num(t, p["lag"]) != num(t, p["headPosition"])-num(t, p["lastProcessedPosition"]) {
		t.Fatalf("lag is not head − processed: %v", p)
	}
}

func TestProjectionRoutesWithoutManager(t *testing.T) {
	e := newEnv(t, Config{})
	for _, r := range []struct{ method, path string }{
		{"GET", "/api/projections"}, {"POST", "/api/projections"}, {"GET", "/api/projections/x"},
		{"DELETE", "/api/projections/x"}, {"POST", "/api/projections/x/pause"}, {"POST", "/api/projections/x/resume"},
		{"POST", "/api/projections/x/reset"}, {"GET", "/api/queries/x"},
	} {
		e.do(r.method, r.path, nil).fail(t, 503, codeUnavailable)
	}
}

func TestProjectionLifecycle(t *testing.T) {
	e, m := newProjectionEnv(t, Config{})
	list := arr(t, e.get("/api/projections").ok(t, 200)["projections"])
	if len(list) != 3 {
		t.Fatalf("want the 3 system projections, got %v", list)
	}
	for i, id := range []string{"$by-category", "$by-event-type", "$stream-stats"} {
		p := obj(t, list[i])
		checkProjection(t, p)
		if p["id"] != id || p["kind"] != "system" || p["eventTypes"] != nil || p["streamPrefix"] != nil {
			t.Fatalf("system projection %d: %v", i, p)
		}
	}

	body := M{"projectionId": "cnt", "name": "counts", "kind": "count", "eventTypes": []string{"B", "A"}, "streamPrefix": "a-"}
	p := e.post("/api/projections", body).ok(t, 201)
	checkProjection(t, p)
	if p["id"] != "cnt" || p["kind"] != "count" || p["streamPrefix"] != "a-" || p["startFrom"] != "beginning" ||
		fmt.Sprint(p["eventTypes"]) != "[B A]" || p["status"] != "active" || p["error"] != nil {
		t.Fatalf("created: %v", p)
	}
	again := e.post("/api/projections", M{"projectionId": "cnt", "name": "counts", "kind": "count", "eventTypes": []string{"A", "B"}, "streamPrefix": "a-", "startFrom": "beginning"}).ok(t, 200)
	if again["createdAt"] != p["createdAt"] {
		t.Fatalf("the same definition again answers the existing projection: %v", again)
	}
	e.post("/api/projections", M{"projectionId": "cnt", "name": "other", "kind": "count"}).fail(t, 409, codeBadRequest)
	made := e.post("/api/projections", M{"name": "made", "kind": "state", "keyBy": "eventData.email"}).ok(t, 201)
	if id, _ := made["id"].(string); engine.ValidateClientStreamID(id) != nil || made["keyBy"] != "eventData.email" {
		t.Fatalf("a server-made id: %v", made)
	}

	e.add("a-1", "A", M{"email": "x@y"})
	e.add("a-1", "B", M{"email": "x@y"})
	last := e.add("b-1", "A", M{"email": "z@y"})
	waitFor(t, m, "cnt", uint64(num(t, last["position"])))
	got := e.get("/api/projections/cnt").ok(t, 200)
	checkProjection(t, got)
	if asJSON(t, got["state"]) != `{"byType":{"A":1,"B":1},"total":2}` || num(t, got["eventsProcessed"]) != 2 {
		t.Fatalf("count state: %v", got)
	}
	if _, ok := got["keys"]; ok {
		t.Fatalf("a count projection has no keys field: %v", got)
	}
	waitFor(t, m, made["id"].(string), uint64(num(t, last["position"])))
	if s := e.get("/api/projections/"+made["id"].(string)).ok(t, 200); num(t, s["keys"]) != 2 || s["state"] != nil {
		t.Fatalf("state projection: %v", s)
	}
	waitFor(t, m, "$stream-stats", uint64(num(t, last["position"])))
	if s := e.get("/api/projections/$stream-stats").ok(t, 200); num(t, s["keys"]) < 2 {
		t.Fatalf("system projection: %v", s)
	}

	if p := e.post("/api/projections/cnt/pause", nil).ok(t, 200); p["status"] != "paused" {
		t.Fatalf("pause: %v", p)
	}
	if p := e.post("/api/projections/cnt/resume", M{}).ok(t, 200); p["status"] != "active" {
		t.Fatalf("resume: %v", p)
	}
	e.post("/api/projections/cnt/pause", M{"now": true}).fail(t, 400, codeBadRequest)
	if p := e.post("/api/projections/cnt/reset", "").ok(t, 200); p["status"] == "error" {
		t.Fatalf("reset: %v", p)
	}
	waitFor(t, m, "cnt", uint64(num(t, last["position"])))
	if got := e.get("/api/projections/cnt").ok(t, 200); asJSON(t, got["state"]) != `{"byType":{"A":1,"B":1},"total":2}` {
		t.Fatalf("count state after reset: %v", got)
	}

	for _, id := range []string{"$by-event-type", "$by-category", "$stream-stats"} {
		e.do("DELETE", "/api/projections/"+id, nil).fail(t, 400, codeBadRequest)
		e.post("/api/projections/"+id+"/pause", nil).fail(t, 400, codeBadRequest)
		e.post("/api/projections/"+id+"/resume", nil).fail(t, 400, codeBadRequest)
	}
	e.post("/api/projections/$by-event-type/reset", nil).ok(t, 200)

	if d := e.do("DELETE", "/api/projections/cnt", nil).ok(t, 200); d["id"] != "cnt" || d["deleted"] != true {
		t.Fatalf("delete: %v", d)
	}
	e.get("/api/projections/cnt").fail(t, 404, codeNotFound)
	e.get("/api/queries/cnt").fail(t, 404, codeNotFound)
	e.do("DELETE", "/api/projections/cnt", nil).fail(t, 404, codeNotFound)
	for _, verb := range []string{"pause", "resume", "reset"} {
		e.post("/api/projections/cnt/"+verb, nil).fail(t, 404, codeNotFound)
	}
}

func TestCreateProjectionRefusesBadInput(t *testing.T) {
	e, m := newProjectionEnv(t, Config{})
	cases := []struct {
		name string
		body any
		code string
	}{
		{"not JSON", `{"name":`, codeInvalidJSON},
		{"not an object", `["x"]`, codeBadRequest},
		{"empty body", ``, codeInvalidJSON},
		{"unknown field", M{"name": "n", "kind": "count", "kinds": "x"}, codeBadRequest},
		{"field twice", `{"name":"n","kind":"count","kind":"count"}`, codeBadRequest},
		{"kind not a string", M{"name": "n", "kind": 1}, codeBadRequest},
		{"eventTypes not an array", M{"name": "n", "kind": "count", "eventTypes": "A"}, codeBadRequest},
		{"no name", M{"kind": "count"}, codeBadRequest},
		{"empty name", M{"name": "", "kind": "count"}, codeBadRequest},
		{"no kind", M{"name": "n"}, codeBadRequest},
		{"kind system", M{"name": "n", "kind": "system"}, codeBadRequest},
		{"unknown kind", M{"name": "n", "kind": "sum"}, codeBadRequest},
		{"empty id", M{"projectionId": "", "name": "n", "kind": "count"}, codeBadRequest},
		{"system id", M{"projectionId": "$mine", "name": "n", "kind": "count"}, codeBadRequest},
		{"bad id", M{"projectionId": "a/b", "name": "n", "kind": "count"}, codeBadRequest},
		{"bad event type", M{"name": "n", "kind": "count", "eventTypes": []string{"A", "9x"}}, codeInvalidEventType},
		{"event type twice", M{"name": "n", "kind": "count", "eventTypes": []string{"A", "A"}}, codeBadRequest},
		{"bad prefix", M{"name": "n", "kind": "count", "streamPrefix": "a b"}, codeBadRequest},
		{"keyBy on count", M{"name": "n", "kind": "count", "keyBy": "eventData.x"}, codeBadRequest},
		{"bad keyBy", M{"name": "n", "kind": "state", "keyBy": "data.x"}, codeBadRequest},
		{"unknown reducer", M{"name": "n", "kind": "state", "reducer": "nope"}, codeBadRequest},
		{"empty reducer", M{"name": "n", "kind": "state", "reducer": ""}, codeBadRequest},
		{"bad startFrom", M{"name": "n", "kind": "count", "startFrom": "soon"}, codeBadRequest},
	}
	head := e.store.Head()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.post("/api/projections", c.body).fail(t, 400, c.code)
			if msg := r["error"].(string); strings.HasPrefix(msg, "projection:") {
				t.Fatalf("message with the package prefix: %q", msg)
			}
		})
	}
	if list, _ := m.List(); len(list) != 3 || e.store.Head() != head {
		t.Fatalf("bad input changed something: %d projections, head %d → %d", len(list), head, e.store.Head())
	}
	// null means absent.
	if p := e.post("/api/projections", M{"name": "n", "kind": "count", "eventTypes": nil, "keyBy": nil, "startFrom": nil}).ok(t, 201); p["eventTypes"] != nil {
		t.Fatalf("nulls: %v", p)
	}
}

func TestProjectionInError(t *testing.T) {
	e, m := newProjectionEnv(t, Config{})
	flakyFails.Store(true)
	t.Cleanup(func() { flakyFails.Store(false) })
	e.post("/api/projections", M{"projectionId": "f", "name": "f", "kind": "state", "reducer": "flaky"}).ok(t, 201)
	e.add("s-1", "A", M{})
	bad := e.add("s-1", "Bad", M{})
	last := e.add("s-1", "A", M{})
	waitFor(t, m, "$by-event-type", uint64(num(t, last["position"])))
	var p map[string]any
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if p = e.get("/api/projections/f").ok(t, 200); p["status"] == "error" || time.Now().After(deadline) {
			break
		}
	}
	if msg, _ := p["error"].(string); p["status"] != "error" || !strings.Contains(msg, fmt.Sprint(num(t, bad["position"]))) {
		t.Fatalf("failed projection: %v", p)
	}
	began := time.Now()
	e.get(fmt.Sprintf("/api/queries/f?key=s-1&minPosition=%d", num(t, last["position"]))).fail(t, 503, codeUnavailable)
	if time.Since(began) > 2*time.Second {
		t.Fatal("a query on a failed projection waited for its timeout")
	}
	e.post("/api/projections/f/pause", nil).fail(t, 400, codeBadRequest)
	e.post("/api/projections/f/resume", nil).fail(t, 400, codeBadRequest)
	flakyFails.Store(false)
	if p := e.post("/api/projections/f/reset", nil).ok(t, 200); p["error"] != nil {
		t.Fatalf("reset: %v", p)
	}
	waitFor(t, m, "f", uint64(num(t, last["position"])))
}

func TestProjectionRoles(t *testing.T) {
	keys, err := ParseKeys(strings.NewReader("r read\nw write\na admin\n"))
	if err != nil {
		t.Fatal(err)
	}
	e, _ := newProjectionEnv(t, Config{Auth: keys})
	as := func(k string) []string { return []string{"Authorization", "Bearer " + k} }
	body := M{"projectionId": "p", "name": "n", "kind": "count"}
	e.post("/api/projections", body).fail(t, 401, codeUnauthorized)
	e.post("/api/projections", body, as("r")...).fail(t, 403, codeForbidden)
	e.post("/api/projections", body, as("w")...).fail(t, 403, codeForbidden)
	e.post("/api/projections", body, as("a")...).ok(t, 201)
	e.get("/api/projections", as("r")...).ok(t, 200)
	e.get("/api/projections/p", as("r")...).ok(t, 200)
	e.get("/api/queries/p", as("r")...).ok(t, 200)
	for _, verb := range []string{"pause", "resume", "reset"} {
		e.post("/api/projections/p/"+verb, nil, as("w")...).fail(t, 403, codeForbidden)
		e.post("/api/projections/p/"+verb, nil, as("a")...).ok(t, 200)
	}
	e.do("DELETE", "/api/projections/p", nil, as("w")...).fail(t, 403, codeForbidden)
	e.do("DELETE", "/api/projections/p", nil, as("a")...).ok(t, 200)
}

func TestProjectionMetrics(t *testing.T) {
	e, m := newProjectionEnv(t, Config{})
	last := e.add("a-1", "A", M{})
	waitFor(t, m, "$by-event-type", uint64(num(t, last["position"])))
	r := e.get("/metrics")
	body := string(r.body)
	for _, want := range []string{
		`eventd_projection_lag{projection="$by-event-type"} 0`,
		`eventd_projection_events_processed_total{projection="$by-event-type"} 1`,
		`eventd_projection_last_processed_position{projection="$stream-stats"}`,
		`eventd_projection_keys{projection="$by-category"}`,
		`eventd_projection_status{projection="$by-category",status="active"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Fatalf("/metrics lacks %s:\n%s", want, body)
		}
	}
}

// The error mapping of the manager's errors.
func TestProjectionErrorCodes(t *testing.T) {
	for _, c := range []struct {
		err    error
		status int
		code   string
	}{
		{projection.ErrNotFound, 404, codeNotFound},
		{projection.ErrKeyNotFound, 404, codeNotFound},
		{projection.ErrSystem, 400, codeBadRequest},
		{projection.ErrFailed, 400, codeBadRequest},
		{projection.ErrExists, 409, codeBadRequest},
		{projection.ErrClosed, 503, codeUnavailable},
		{engine.ErrClosed, 503, codeUnavailable},
		{errors.New("disk on fire"), 500, codeInternal},
	} {
		if e := projectionError(c.err); e.status != c.status || e.code != c.code {
			t.Errorf("%v → %d %s, want %d %s", c.err, e.status, e.code, c.status, c.code)
		}
	}
}

// asJSON renders a decoded value as compact JSON (keys sorted).
func asJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
