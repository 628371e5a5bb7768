package client_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/eventd/eventd/client"
)

func TestSchemas(t *testing.T) {
	d := startDaemon(t)
	c := newClient(t, d)
	ctx := testCtx(t, 30*time.Second)

	// v1 events, written before the schema exists.
	if _, err := c.Append(ctx, "person-1", "PersonRegistered", map[string]any{"name": "Ann Lee", "legacy": true}); err != nil {
		t.Fatal(err)
	}
	sep := " "
	def := client.SchemaDefinition{
		CurrentVersion: 2,
		Upcasters: []client.Upcaster{{From: 1, To: 2, Ops: []client.UpcastOp{
			{Op: "split", From: "name", Separator: &sep, To: []string{"first", "last"}},
			{Op: "default", Path: "country", Value: "US"},
			{Op: "remove", Path: "legacy"},
		}}},
		JSONSchema: json.RawMessage(`{"type":"object","required":["first","last"],"properties":{"first":{"type":"string","minLength":1}}}`),
	}
	s, err := c.PutSchema(ctx, "PersonRegistered", def)
	if err != nil {
		t.Fatal(err)
	}
	if s.EventType != "PersonRegistered" || s.CurrentVersion != 2 || len(s.Upcasters) != 1 || len(s.Upcasters[0].Ops) != 3 ||
		s.Revision == "" || len(s.JSONSchema) == 0 {
		t.Fatalf("schema: %+v", s)
	}
	if again, err := c.PutSchema(ctx, "PersonRegistered", def); err != nil || again.Revision != s.Revision {
		t.Fatalf("identical put: %+v %v", again, err)
	}
	g, err := c.GetSchema(ctx, "PersonRegistered")
	if err != nil || g.Revision != s.Revision || g.Upcasters[0].Ops[0].Op != "split" {
		t.Fatalf("get: %+v %v", g, err)
	}
	_, err = c.GetSchema(ctx, "Unknown")
	wantCode(t, err, http.StatusNotFound, client.CodeNotFound, client.ErrNotFound)
	list, err := c.ListSchemas(ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("list: %+v %v", list, err)
	}

	// Reads upcast; Raw shows the stored event.
	p, err := c.ReadStream(ctx, "person-1", client.ReadStreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var v2 map[string]any
	if err := p.Events[0].Decode(&v2); err != nil || v2["first"] != "Ann" || v2["last"] != "Lee" || v2["country"] != "US" ||
		v2["legacy"] != nil || p.Events[0].SchemaVersion != 2 {
		t.Fatalf("upcast: %s (v%d)", p.Events[0].EventData, p.Events[0].SchemaVersion)
	}
	p, err = c.ReadStream(ctx, "person-1", client.ReadStreamOptions{Raw: true})
	if err != nil || p.Events[0].SchemaVersion != 1 {
		t.Fatalf("raw: %+v %v", p, err)
	}

	// Appends at v2 are validated.
	if _, err := c.Append(ctx, "person-2", "PersonRegistered", map[string]string{"first": "Bo", "last": "Ek"},
		client.WithSchemaVersion(2)); err != nil {
		t.Fatal(err)
	}
	_, err = c.Append(ctx, "person-3", "PersonRegistered", map[string]string{"first": ""}, client.WithSchemaVersion(2))
	ae := wantCode(t, err, http.StatusUnprocessableEntity, client.CodeSchemaViolation, client.ErrSchemaViolation)
	sv, ok := ae.SchemaViolation()
	if !ok || sv.EventType != "PersonRegistered" || sv.SchemaVersion != 2 || sv.Event != 0 || len(sv.Violations) == 0 {
		t.Fatalf("violation details: %+v %v (%s)", sv, ok, ae.Details)
	}
	// In a batch, the index of the offending event.
	_, err = c.AppendBatch(ctx, "person-4", []client.NewEvent{
		{EventType: "PersonRegistered", Data: map[string]string{"first": "A", "last": "B"}, SchemaVersion: 2},
		{EventType: "PersonRegistered", Data: map[string]string{"last": "B"}, SchemaVersion: 2},
	})
	ae = wantCode(t, err, http.StatusUnprocessableEntity, client.CodeSchemaViolation, client.ErrSchemaViolation)
	if sv, ok := ae.SchemaViolation(); !ok || sv.Event != 1 {
		t.Fatalf("batch violation: %+v %v", sv, ok)
	}
	if _, ok := ae.VersionConflict(); ok {
		t.Fatal("VersionConflict of a schema violation")
	}
	_, err = c.Append(ctx, "person-5", "PersonRegistered", map[string]string{}, client.WithSchemaVersion(3))
	wantCode(t, err, http.StatusUnprocessableEntity, client.CodeSchemaViolation, client.ErrSchemaViolation)
	// currentVersion never goes down.
	_, err = c.PutSchema(ctx, "PersonRegistered", client.SchemaDefinition{CurrentVersion: 1})
	wantCode(t, err, http.StatusBadRequest, client.CodeBadRequest, client.ErrBadRequest)
}

func TestReducers(t *testing.T) {
	d := startDaemon(t)
	c := newClient(t, d)
	ctx := testCtx(t, 30*time.Second)

	def := client.ReducerDefinition{Category: "acct", Handlers: map[string]client.ReducerOps{
		"Deposited": {{Op: client.OpIncrement, Path: "balance", From: "eventData.amount"},
			{Op: client.OpIncrement, Path: "deposits", By: "1"}},
		"Closed": {{Op: client.OpDelete}},
	}}
	r, err := c.PutReducer(ctx, "accounts", def)
	if err != nil {
		t.Fatal(err)
	}
	if r.Name != "accounts" || r.Category != "acct" || r.Revision == "" {
		t.Fatalf("reducer: %+v", r)
	}
	g, err := c.GetReducer(ctx, "accounts")
	if err != nil || g.Revision != r.Revision || len(g.Handlers["Deposited"]) != 2 || g.Handlers["Deposited"][1].By != "1" || g.BuiltIn {
		t.Fatalf("get: %+v %v", g, err)
	}
	list, err := c.ListReducers(ctx)
	if err != nil || len(list) != 2 || list[0].Name != "accounts" || list[1].Name != "default" || !list[1].BuiltIn || list[1].Handlers != nil {
		t.Fatalf("list: %+v %v", list, err)
	}
	_, err = c.GetReducer(ctx, "nope")
	wantCode(t, err, http.StatusNotFound, client.CodeNotFound, client.ErrNotFound)
	_, err = c.PutReducer(ctx, "other", client.ReducerDefinition{Category: "acct", Handlers: def.Handlers})
	wantCode(t, err, http.StatusConflict, client.CodeBadRequest, client.ErrBadRequest)
	_, err = c.PutReducer(ctx, "default", def)
	wantCode(t, err, http.StatusBadRequest, client.CodeBadRequest, client.ErrBadRequest)

	for _, amt := range []int{10, 32} {
		if _, err := c.Append(ctx, "acct-1", "Deposited", map[string]int{"amount": amt}); err != nil {
			t.Fatal(err)
		}
	}
	rep, err := c.Replay(ctx, "acct-1", client.ReplayOptions{SkipEvents: true})
	if err != nil {
		t.Fatal(err)
	}
	var st struct{ Balance, Deposits int }
	if err := rep.DecodeState(&st); err != nil || st.Balance != 42 || st.Deposits != 2 {
		t.Fatalf("reduced: %s %v", rep.FinalState, err)
	}
}

func TestSnapshots(t *testing.T) {
	d := startDaemon(t, "--snapshot-every", "0", "--snapshot-after", "0")
	c := newClient(t, d)
	ctx := testCtx(t, 30*time.Second)

	for i := 0; i < 3; i++ {
		if _, err := c.Append(ctx, "doc-1", "Edited", map[string]int{"rev": i}); err != nil {
			t.Fatal(err)
		}
	}
	s, err := c.CreateSnapshot(ctx, "doc-1", 0)
	if err != nil {
		t.Fatal(err)
	}
	if s.StreamID != "doc-1" || s.Version != 3 || s.Source != client.SnapshotFromServer || s.SnapshotID == "" ||
		s.Reducer != "default" || s.SizeBytes <= 0 || s.CreatedAt.IsZero() {
		t.Fatalf("computed: %+v", s)
	}
	u, err := c.UploadSnapshot(ctx, "doc-1", 2, map[string]int{"rev": 99})
	if err != nil || u.Source != client.SnapshotFromClient || u.Version != 2 {
		t.Fatalf("uploaded: %+v %v", u, err)
	}
	l, err := c.ListSnapshots(ctx, "doc-1")
	if err != nil {
		t.Fatal(err)
	}
	if l.StreamID != "doc-1" || len(l.Snapshots) != 2 || l.Snapshots[0].Version != 3 || l.Latest == nil ||
		l.Latest.Version != 3 || string(l.Latest.Data) != `{"rev":2}` {
		t.Fatalf("list: %+v latest %+v", l, l.Latest)
	}
	rep, err := c.Replay(ctx, "doc-1", client.ReplayOptions{ToVersion: 2, SkipEvents: true})
	if err != nil || rep.SnapshotVersion == nil || *rep.SnapshotVersion != 2 || string(rep.FinalState) != `{"rev":99}` {
		t.Fatalf("replay from the uploaded snapshot: %+v %v", rep, err)
	}

	_, err = c.CreateSnapshot(ctx, "doc-404", 0)
	wantCode(t, err, http.StatusNotFound, client.CodeNotFound, client.ErrNotFound)
	_, err = c.ListSnapshots(ctx, "doc-404")
	wantCode(t, err, http.StatusNotFound, client.CodeNotFound, client.ErrNotFound)
	_, err = c.UploadSnapshot(ctx, "doc-1", 7, map[string]int{})
	wantCode(t, err, http.StatusBadRequest, client.CodeBadRequest, client.ErrBadRequest)
}

func TestHealth(t *testing.T) {
	d := startDaemon(t)
	c := newClient(t, d)
	ctx := testCtx(t, 30*time.Second)

	if _, err := c.Append(ctx, "h-1", "E", nil); err != nil {
		t.Fatal(err)
	}
	h, err := c.Health(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h.Status != client.HealthHealthy || h.TotalEvents != 1 || h.TotalStreams != 1 || h.HeadPosition != 1 ||
		h.Fsync != "never" || h.Timestamp.IsZero() || h.DataDirBytes <= 0 || h.Problems == nil {
		t.Fatalf("health: %+v", h)
	}
}

func TestMetricsAndOpenAPI(t *testing.T) {
	d := startDaemon(t)
	c := newClient(t, d)
	ctx := testCtx(t, 30*time.Second)

	if _, err := c.Append(ctx, "m-1", "E", nil); err != nil {
		t.Fatal(err)
	}
	m, err := c.Metrics(ctx)
	if err != nil || !strings.Contains(string(m), "eventd_") {
		t.Fatalf("metrics: %.200s %v", m, err)
	}
	doc, err := c.OpenAPI(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var spec struct {
		OpenAPI string                     `json:"openapi"`
		Paths   map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(doc, &spec); err != nil || !strings.HasPrefix(spec.OpenAPI, "3") || len(spec.Paths) < 20 {
		t.Fatalf("openapi: %v %s %d paths", err, spec.OpenAPI, len(spec.Paths))
	}
}
