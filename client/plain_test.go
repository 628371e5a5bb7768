package client_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/eventd/eventd/client"
)

// TestSubscribePlainMessages: against a real daemon, typed and plain
// messages (PlainMessages) deliver the same events, on both routes, an
// event whose type is "error" included.
func TestSubscribePlainMessages(t *testing.T) {
	d := startDaemon(t)
	c := newClient(t, d)
	ctx := testCtx(t, 30*time.Second)
	for _, typ := range []string{"error", "Opened", "message"} {
		if _, err := c.Append(ctx, "pm-1", typ, map[string]any{"t": typ}); err != nil {
			t.Fatal(err)
		}
	}
	for _, plain := range []bool{false, true} {
		all, err := c.Subscribe(ctx, client.SubscribeOptions{PlainMessages: plain})
		if err != nil {
			t.Fatal(err)
		}
		one, err := c.SubscribeStream(ctx, "pm-1", client.StreamSubscribeOptions{PlainMessages: plain})
		if err != nil {
			t.Fatal(err)
		}
		for _, sub := range []*client.Subscription{all, one} {
			got := receive(t, sub, 3, 10*time.Second)
			if got[0].EventType != "error" || got[1].EventType != "Opened" || got[2].EventType != "message" || got[2].Version != 3 {
				t.Fatalf("plain=%v: %+v", plain, got)
			}
			_ = sub.Close()
		}
	}
}

// TestPlainMessagesQuery: PlainMessages sends messages=plain, and a plain
// stream (no event: lines) is read like a typed one.
func TestPlainMessagesQuery(t *testing.T) {
	queries := make(chan url.Values, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		queries <- r.URL.Query()
		sseHeaders(w)
		flush(w, ": subscribed\n\nid: 1\ndata: {\"eventId\":\"e1\",\"streamId\":\"s-1\",\"version\":1,\"position\":1,\"eventType\":\"error\",\"schemaVersion\":1,\"eventData\":{},\"metadata\":{},\"timestamp\":\"2024-01-15T10:30:00.000Z\"}\n\n")
		<-r.Context().Done()
	}))
	defer srv.Close()
	c := fastClient(t, srv.URL)
	sub, err := c.SubscribeStream(testCtx(t, 10*time.Second), "s-1", client.StreamSubscribeOptions{PlainMessages: true})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	got := receive(t, sub, 1, 5*time.Second)
	if got[0].EventType != "error" || got[0].Position != 1 {
		t.Fatalf("%+v", got)
	}
	if q := <-queries; q.Get("messages") != "plain" {
		t.Fatalf("query %v", q)
	}
}
