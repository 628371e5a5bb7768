package client_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/eventd/eventd/client"
)

func TestProjectionLifecycle(t *testing.T) {
	d := startDaemon(t)
	c := newClient(t, d)
	ctx := testCtx(t, 30*time.Second)

	def := client.ProjectionDefinition{ID: "order-counts", Name: "Orders", Kind: client.ProjectionCount,
		EventTypes: []string{"OrderPlaced", "OrderPaid"}, StreamPrefix: "order-"}
	p, err := c.CreateProjection(ctx, def)
	if err != nil {
		t.Fatal(err)
	}
	if p.ID != "order-counts" || p.Name != "Orders" || p.Kind != "count" || p.StreamPrefix != "order-" ||
		!slices.Equal(p.EventTypes, def.EventTypes) || p.CreatedAt.IsZero() || p.KeyBy != "" || p.Error != "" {
		t.Fatalf("created: %+v", p)
	}
	// The same definition again answers the projection; another is a 409.
	if _, err := c.CreateProjection(ctx, def); err != nil {
		t.Fatal(err)
	}
	other := def
	other.Name = "Changed"
	_, err = c.CreateProjection(ctx, other)
	wantCode(t, err, http.StatusConflict, client.CodeBadRequest, client.ErrBadRequest)

	var last uint64
	for i := 0; i < 3; i++ {
		r, err := c.Append(ctx, fmt.Sprintf("order-%d", i), "OrderPlaced", nil)
		if err != nil {
			t.Fatal(err)
		}
		last = r.Position
	}
	paid, err := c.Append(ctx, "order-1", "OrderPaid", nil)
	if err != nil {
		t.Fatal(err)
	}
	// Read-your-writes: the count entry of OrderPlaced after position last.
	e, err := c.Query(ctx, "order-counts", "OrderPlaced", client.QueryOptions{MinPosition: paid.Position, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var cnt struct{ Count int }
	if err := e.Decode(&cnt); err != nil || cnt.Count != 3 || e.Position < last || e.Key != "OrderPlaced" || e.QueryID != "order-counts" {
		t.Fatalf("query: %+v %v", e, err)
	}
	g, err := c.GetProjection(ctx, "order-counts")
	if err != nil {
		t.Fatal(err)
	}
	var state struct {
		Total  int
		ByType map[string]int
	}
	if err := json.Unmarshal(g.State, &state); err != nil || state.Total != 4 || state.ByType["OrderPaid"] != 1 {
		t.Fatalf("count state: %s %v", g.State, err)
	}

	list, err := c.ListProjections(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range list {
		ids = append(ids, p.ID)
	}
	if !slices.Equal(ids, []string{"$by-category", "$by-event-type", "$stream-stats", "order-counts"}) || list[0].Kind != client.ProjectionSystem {
		t.Fatalf("projections: %v", ids)
	}

	if p, err = c.PauseProjection(ctx, "order-counts"); err != nil || p.Status != client.ProjectionPaused {
		t.Fatalf("pause: %+v %v", p, err)
	}
	if p, err = c.PauseProjection(ctx, "order-counts"); err != nil || p.Status != client.ProjectionPaused {
		t.Fatalf("pause again: %+v %v", p, err)
	}
	if p, err = c.ResumeProjection(ctx, "order-counts"); err != nil || p.Status == client.ProjectionPaused {
		t.Fatalf("resume: %+v %v", p, err)
	}
	if p, err = c.ResetProjection(ctx, "order-counts"); err != nil || p.ID != "order-counts" {
		t.Fatalf("reset: %+v %v", p, err)
	}
	_, err = c.PauseProjection(ctx, "$by-category")
	wantCode(t, err, http.StatusBadRequest, client.CodeBadRequest, client.ErrBadRequest)
	err = c.DeleteProjection(ctx, "$stream-stats")
	wantCode(t, err, http.StatusBadRequest, client.CodeBadRequest, client.ErrBadRequest)
	if err := c.DeleteProjection(ctx, "order-counts"); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetProjection(ctx, "order-counts")
	wantCode(t, err, http.StatusNotFound, client.CodeNotFound, client.ErrNotFound)
	err = c.DeleteProjection(ctx, "order-counts")
	wantCode(t, err, http.StatusNotFound, client.CodeNotFound, client.ErrNotFound)
}

func TestQueries(t *testing.T) {
	d := startDaemon(t)
	c := newClient(t, d)
	ctx := testCtx(t, 30*time.Second)

	if _, err := c.CreateProjection(ctx, client.ProjectionDefinition{ID: "users", Name: "Users",
		Kind: client.ProjectionState, StreamPrefix: "user-"}); err != nil {
		t.Fatal(err)
	}
	var last uint64
	for i := 0; i < 12; i++ {
		plan := "free"
		if i%3 == 0 {
			plan = "pro"
		}
		st, err := c.SendCommand(ctx, client.Command{Type: "CreateUser", Data: map[string]string{
			"userId": fmt.Sprintf("user-%02d", i), "email": fmt.Sprintf("u%d@x", i), "name": plan}})
		if err != nil {
			t.Fatal(err)
		}
		last = st.Result.LastPosition()
	}

	// Read-your-writes by key right after the command.
	e, err := c.Query(ctx, "users", "user-11", client.QueryOptions{MinPosition: last})
	if err != nil {
		t.Fatal(err)
	}
	var u struct{ Email, Name string }
	if err := e.Decode(&u); err != nil || u.Email != "u11@x" || e.Position < last {
		t.Fatalf("entry: %+v %v", e, err)
	}
	_, err = c.Query(ctx, "users", "user-99", client.QueryOptions{})
	wantCode(t, err, http.StatusNotFound, client.CodeNotFound, client.ErrNotFound)
	_, err = c.Query(ctx, "nobody", "k", client.QueryOptions{})
	wantCode(t, err, http.StatusNotFound, client.CodeNotFound, client.ErrNotFound)

	// A position the projection will not reach: 503 after the timeout, not retried.
	start := time.Now()
	_, err = c.Query(ctx, "users", "user-11", client.QueryOptions{MinPosition: last + 1000, Timeout: 200 * time.Millisecond})
	wantCode(t, err, http.StatusServiceUnavailable, client.CodeUnavailable, client.ErrUnavailable)
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("minPosition timeout took %v: retried?", el)
	}

	// Lists: where, limit, cursor, and the iterator.
	p, err := c.QueryList(ctx, "users", client.QueryListOptions{Limit: 5, QueryOptions: client.QueryOptions{MinPosition: last}})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Items) != 5 || p.Items[0].Key != "user-00" || !p.HasNext() || p.QueryID != "users" {
		t.Fatalf("first page: %+v", p)
	}
	p2, err := p.Next(ctx)
	if err != nil || p2.Items[0].Key != "user-05" {
		t.Fatalf("second page: %+v %v", p2, err)
	}
	var keys []string
	for it, err := range c.QueryItems(ctx, "users", client.QueryListOptions{Limit: 2, Where: map[string]string{"name": "pro"}}) {
		if err != nil {
			t.Fatal(err)
		}
		var v struct{ Name string }
		if err := it.Decode(&v); err != nil || v.Name != "pro" {
			t.Fatalf("item %s: %s", it.Key, it.Value)
		}
		keys = append(keys, it.Key)
	}
	if !slices.Equal(keys, []string{"user-00", "user-03", "user-06", "user-09"}) {
		t.Fatalf("where name=pro: %v", keys)
	}
	n := 0
	for _, err := range c.QueryItems(ctx, "users", client.QueryListOptions{Limit: 5}) {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 12 {
		t.Fatalf("all items: %d", n)
	}
	_, err = c.QueryList(ctx, "users", client.QueryListOptions{Cursor: "bogus"})
	wantCode(t, err, http.StatusBadRequest, client.CodeBadRequest, client.ErrBadRequest)
}
