package client_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/eventd/eventd/client"
)

func TestAppendAndReadStream(t *testing.T) {
	d := startDaemon(t)
	c := newClient(t, d)
	ctx := testCtx(t, 30*time.Second)

	type order struct {
		Total int    `json:"total"`
		Item  string `json:"item"`
	}
	r1, err := c.Append(ctx, "order-1", "OrderPlaced", order{10, "book"},
		client.WithExpectedVersion(client.NoStream), client.WithMetadata(map[string]string{"by": "alice"}))
	if err != nil {
		t.Fatal(err)
	}
	if r1.Version != 1 || r1.Position != 1 || r1.EventID == "" || r1.StreamID != "order-1" ||
		r1.EventType != "OrderPlaced" || r1.Timestamp.IsZero() || r1.Duplicate {
		t.Fatalf("first append: %+v", r1)
	}
	r2, err := c.Append(ctx, "order-1", "OrderPaid", json.RawMessage(`{"amount": 10.50}`),
		client.WithExpectedVersion(client.Exact(1)), client.WithEventID("pay-1"), client.WithSchemaVersion(1))
	if err != nil {
		t.Fatal(err)
	}
	if r2.Version != 2 || r2.EventID != "pay-1" {
		t.Fatalf("second append: %+v", r2)
	}
	if _, err := c.Append(ctx, "order-1", "OrderShipped", nil, client.WithExpectedVersion(client.StreamExists)); err != nil {
		t.Fatal(err)
	}

	p, err := c.ReadStream(ctx, "order-1", client.ReadStreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.StreamID != "order-1" || p.CurrentVersion != 3 || len(p.Events) != 3 || p.HasNext() {
		t.Fatalf("page: %+v", p)
	}
	ev := p.Events[0]
	var o order
	var meta map[string]string
	if err := ev.Decode(&o); err != nil || o != (order{10, "book"}) {
		t.Fatalf("decode: %v %+v", err, o)
	}
	if err := ev.DecodeMetadata(&meta); err != nil || meta["by"] != "alice" {
		t.Fatalf("metadata: %v %v", err, meta)
	}
	if ev.EventID != r1.EventID || ev.Version != 1 || ev.Position != 1 || ev.EventType != "OrderPlaced" ||
		ev.SchemaVersion != 1 || !ev.Timestamp.Equal(r1.Timestamp) || ev.StreamID != "order-1" {
		t.Fatalf("event: %+v", ev)
	}
	if got := string(p.Events[1].EventData); got != `{"amount":10.50}` { // compacted by encoding/json, spelling kept
		t.Fatalf("eventData not kept as sent: %s", got)
	}
	if got := string(p.Events[1].Metadata); got != `{}` {
		t.Fatalf("metadata without any: %s", got)
	}
	if got := string(p.Events[2].EventData); got != `{}` {
		t.Fatalf("nil data: %s", got)
	}

	// A stream that does not exist reads as empty.
	p, err = c.ReadStream(ctx, "nothing-here", client.ReadStreamOptions{})
	if err != nil || len(p.Events) != 0 || p.CurrentVersion != 0 {
		t.Fatalf("empty stream: %+v %v", p, err)
	}
}

func TestExpectedVersionConflicts(t *testing.T) {
	d := startDaemon(t)
	c := newClient(t, d)
	ctx := testCtx(t, 30*time.Second)

	for i := 0; i < 3; i++ {
		if _, err := c.Append(ctx, "acct-1", "Deposited", map[string]int{"n": i}); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		ev       client.ExpectedVersion
		expected string
	}{
		{client.NoStream, `"no_stream"`},
		{client.Exact(2), `2`},
		{client.Exact(0), `0`},
	}
	for _, tc := range cases {
		_, err := c.Append(ctx, "acct-1", "Deposited", map[string]int{"n": 9}, client.WithExpectedVersion(tc.ev))
		ae := wantCode(t, err, http.StatusConflict, client.CodeWrongExpectedVersion, client.ErrWrongExpectedVersion)
		vc, ok := ae.VersionConflict()
		if !ok || vc.CurrentVersion != 3 || string(vc.ExpectedVersion) != tc.expected {
			t.Fatalf("%v: conflict details %+v %v (raw %s)", tc.ev, vc, ok, ae.Details)
		}
		if v, ok := client.CurrentVersion(fmt.Errorf("wrapped: %w", err)); !ok || v != 3 {
			t.Fatalf("CurrentVersion: %d %v", v, ok)
		}
	}
	_, err := c.Append(ctx, "acct-new", "Opened", nil, client.WithExpectedVersion(client.StreamExists))
	wantCode(t, err, http.StatusConflict, client.CodeWrongExpectedVersion, client.ErrWrongExpectedVersion)
	if v, ok := client.CurrentVersion(err); !ok || v != 0 {
		t.Fatalf("CurrentVersion of a new stream: %d %v", v, ok)
	}
	if _, ok := client.CurrentVersion(errors.New("other")); ok {
		t.Fatal("CurrentVersion of a plain error")
	}
	// The batch takes the expected version too; nothing is written.
	_, err = c.AppendBatch(ctx, "acct-1", []client.NewEvent{{EventType: "A"}, {EventType: "B"}},
		client.WithExpectedVersion(client.Exact(1)))
	wantCode(t, err, http.StatusConflict, client.CodeWrongExpectedVersion, client.ErrWrongExpectedVersion)
	if st, err := c.Stream(ctx, "acct-1"); err != nil || st.CurrentVersion != 3 {
		t.Fatalf("after refused batch: %+v %v", st, err)
	}
}

func TestAppendBatch(t *testing.T) {
	d := startDaemon(t)
	c := newClient(t, d)
	ctx := testCtx(t, 30*time.Second)

	res, err := c.AppendBatch(ctx, "cart-1", []client.NewEvent{
		{EventType: "ItemAdded", Data: map[string]string{"sku": "a"}, Metadata: map[string]int{"n": 1}},
		{EventType: "ItemAdded", Data: map[string]string{"sku": "b"}, EventID: "my-id"},
		{EventType: "CheckedOut", SchemaVersion: 1},
	}, client.WithExpectedVersion(client.NoStream))
	if err != nil {
		t.Fatal(err)
	}
	if res.StreamID != "cart-1" || res.FirstVersion != 1 || res.LastVersion != 3 || res.FirstPosition != 1 ||
		res.LastPosition != 3 || len(res.Events) != 3 || res.Events[1].EventID != "my-id" || res.Timestamp.IsZero() || res.Duplicate {
		t.Fatalf("batch: %+v", res)
	}
	for i, e := range res.Events {
		if e.Version != uint64(i+1) || e.Position != uint64(i+1) || e.EventID == "" {
			t.Fatalf("batch event %d: %+v", i, e)
		}
	}
	if _, err := c.AppendBatch(ctx, "cart-1", nil); err == nil {
		t.Fatal("empty batch accepted")
	}
	_, err = c.AppendBatch(ctx, "cart-1", []client.NewEvent{{EventType: "X", EventID: "same"}, {EventType: "X", EventID: "same"}})
	wantCode(t, err, http.StatusBadRequest, client.CodeBadRequest, client.ErrBadRequest)
}

func TestIdempotentAppends(t *testing.T) {
	d := startDaemon(t)
	c := newClient(t, d)
	ctx := testCtx(t, 30*time.Second)

	first, err := c.Append(ctx, "pay-1", "Paid", map[string]int{"cents": 100}, client.WithEventID("evt-1"),
		client.WithExpectedVersion(client.NoStream))
	if err != nil {
		t.Fatal(err)
	}
	// The same append again (as a retry after a lost answer would be), even
	// with an expected version that no longer holds: the first result.
	again, err := c.Append(ctx, "pay-1", "Paid", map[string]int{"cents": 100}, client.WithEventID("evt-1"),
		client.WithExpectedVersion(client.NoStream))
	if err != nil {
		t.Fatal(err)
	}
	if !again.Duplicate || again.Position != first.Position || again.Version != first.Version || again.EventID != "evt-1" {
		t.Fatalf("retry: %+v, first %+v", again, first)
	}

	batch := []client.NewEvent{{EventType: "A", EventID: "b-1"}, {EventType: "B", EventID: "b-2"}}
	b1, err := c.AppendBatch(ctx, "pay-1", batch)
	if err != nil {
		t.Fatal(err)
	}
	b2, err := c.AppendBatch(ctx, "pay-1", batch)
	if err != nil {
		t.Fatal(err)
	}
	if !b2.Duplicate || b2.FirstPosition != b1.FirstPosition || b2.LastVersion != b1.LastVersion {
		t.Fatalf("batch retry: %+v, first %+v", b2, b1)
	}
	// Only some ids already written: a conflict, nothing written.
	_, err = c.AppendBatch(ctx, "pay-1", []client.NewEvent{{EventType: "A", EventID: "b-2"}, {EventType: "C", EventID: "b-3"}})
	wantCode(t, err, http.StatusConflict, client.CodeDuplicateEvent, client.ErrDuplicateEvent)

	p, err := c.ReadStream(ctx, "pay-1", client.ReadStreamOptions{})
	if err != nil || len(p.Events) != 3 {
		t.Fatalf("stream after retries: %d events, %v", len(p.Events), err)
	}

	// WithAutoIDs: ids are made by the client (UUIDv7).
	ca := newClient(t, d, client.WithAutoIDs())
	r, err := ca.Append(ctx, "pay-2", "Paid", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.EventID) != 36 || r.EventID[14] != '7' {
		t.Fatalf("auto id: %q", r.EventID)
	}
}

func TestNewID(t *testing.T) {
	seen := map[string]bool{}
	prev := ""
	for i := 0; i < 1000; i++ {
		id := client.NewID()
		if len(id) != 36 || id[14] != '7' || id[8] != '-' || id[13] != '-' || id[18] != '-' || id[23] != '-' ||
			(id[19] != '8' && id[19] != '9' && id[19] != 'a' && id[19] != 'b') {
			t.Fatalf("not a UUIDv7: %s", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %s", id)
		}
		seen[id] = true
		if id[:13] < prev {
			t.Fatalf("time prefix went back: %s after %s", id, prev)
		}
		prev = id[:13]
	}
}
