package client_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventd/eventd/client"
)

// sseEvent renders one event message as the daemon does.
func sseEvent(pos uint64, typ string) string {
	return fmt.Sprintf("id: %d\nevent: %s\ndata: {\"eventId\":\"e%d\",\"streamId\":\"s-1\",\"version\":%d,\"position\":%d,"+
		"\"eventType\":%q,\"schemaVersion\":1,\"eventData\":{},\"metadata\":{},\"timestamp\":\"2024-01-15T10:30:00.000Z\"}\n\n",
		pos, typ, pos, pos, pos, typ)
}

// fakeSSE serves a scripted subscription: script[i] handles connection i.
type fakeSSE struct {
	mu       sync.Mutex
	lastIDs  []string // the Last-Event-ID of each connection
	queries  []string
	script   []func(w http.ResponseWriter, r *http.Request)
	fallback func(w http.ResponseWriter, r *http.Request)
}

func (f *fakeSSE) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	i := len(f.lastIDs)
	f.lastIDs = append(f.lastIDs, r.Header.Get("Last-Event-ID"))
	f.queries = append(f.queries, r.URL.RawQuery)
	h := f.fallback
	if i < len(f.script) {
		h = f.script[i]
	}
	f.mu.Unlock()
	h(w, r)
}

func (f *fakeSSE) seen() ([]string, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.lastIDs), slices.Clone(f.queries)
}

func sseHeaders(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(http.StatusOK)
}

func flush(w http.ResponseWriter, s string) {
	_, _ = fmt.Fprint(w, s)
	_ = http.NewResponseController(w).Flush()
}

// cut drops the connection without ending the response properly.
func cut(w http.ResponseWriter) {
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		conn.Close()
	}
}

func fastClient(t *testing.T, url string) *client.Client {
	c, err := client.New(url, client.WithRetry(client.RetryPolicy{MaxAttempts: 3, InitialBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSubscriptionResumesAfterDrops: cut connections, a repeated event,
// the daemon's error message, CRLF and CR line ends, split data lines, an
// idle connection; every event arrives once, in order.
func TestSubscriptionResumesAfterDrops(t *testing.T) {
	hold := make(chan struct{})
	f := &fakeSSE{script: []func(http.ResponseWriter, *http.Request){
		func(w http.ResponseWriter, r *http.Request) { // 1, 2, 3, then cut mid-message
			sseHeaders(w)
			flush(w, ": subscribed\n\n"+sseEvent(1, "A")+sseEvent(2, "B")+sseEvent(3, "A"))
			flush(w, "id: 4\nevent: A\ndata: {\"eventId\":\"e4\",\"str")
			cut(w)
		},
		func(w http.ResponseWriter, r *http.Request) { // repeats 3; CRLF; split data; then the error message
			sseHeaders(w)
			e4 := strings.Replace(sseEvent(4, "A"), `,"streamId"`, ",\ndata: \"streamId\"", 1)
			flush(w, ": subscribed\r\n\r\n"+sseEvent(3, "A")+strings.ReplaceAll(e4, "\n", "\r\n")+"retry: 10\n: heartbeat\n\n")
			flush(w, strings.ReplaceAll(sseEvent(5, "A"), "\n", "\r"))
			flush(w, "event: error\ndata: \"the store is closing\"\n\n")
		},
		func(w http.ResponseWriter, r *http.Request) { // headers, then silence
			sseHeaders(w)
			flush(w, ": subscribed\n\n")
			<-hold
		},
		func(w http.ResponseWriter, r *http.Request) { // a 503 while restarting
			http.Error(w, `{"success":false,"error":"shutting down","code":"unavailable"}`, http.StatusServiceUnavailable)
		},
		func(w http.ResponseWriter, r *http.Request) { // a user event of type "error", then 6; stays open
			sseHeaders(w)
			flush(w, ": subscribed\n\n"+sseEvent(6, "error")+sseEvent(7, "C"))
			<-hold
		},
	}, fallback: func(w http.ResponseWriter, r *http.Request) { // later reconnections (a slow machine's idle timeout)
		sseHeaders(w)
		<-hold
	}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	defer close(hold) // before srv.Close, which waits for the handlers
	c := fastClient(t, srv.URL)
	ctx := testCtx(t, 20*time.Second)

	var mu sync.Mutex
	var reasons []error
	sub, err := c.Subscribe(ctx, client.SubscribeOptions{ReconnectOptions: client.ReconnectOptions{
		IdleTimeout: 300 * time.Millisecond,
		OnReconnect: func(err error, attempt int, wait time.Duration) {
			mu.Lock()
			reasons = append(reasons, err)
			mu.Unlock()
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	got := receive(t, sub, 7, 15*time.Second)
	if !slices.Equal(positionsOf(got), []uint64{1, 2, 3, 4, 5, 6, 7}) {
		t.Fatalf("positions: %v", positionsOf(got))
	}
	if got[5].EventType != "error" || got[3].StreamID != "s-1" {
		t.Fatalf("events: %+v", got)
	}
	quiet(t, sub, 100*time.Millisecond)

	ids, queries := f.seen()
	if len(ids) < 5 || !slices.Equal(ids[:5], []string{"0", "3", "5", "5", "5"}) {
		t.Fatalf("Last-Event-IDs: %q", ids)
	}
	if queries[0] != "fromPosition=0" || queries[1] != "fromPosition=3" {
		t.Fatalf("queries: %q", queries)
	}
	mu.Lock()
	defer mu.Unlock()
	var se *client.StreamError
	if len(reasons) < 4 || !errors.As(reasons[1], &se) || se.Message != "the store is closing" ||
		!strings.Contains(reasons[2].Error(), "idle") || !errors.Is(reasons[3], client.ErrUnavailable) {
		t.Fatalf("reconnect reasons: %v", reasons)
	}
}

// TestStreamSubscriptionResume: before any event the stream route is
// reopened with fromVersion; after one, with Last-Event-ID.
func TestStreamSubscriptionResume(t *testing.T) {
	hold := make(chan struct{})
	f := &fakeSSE{script: []func(http.ResponseWriter, *http.Request){
		func(w http.ResponseWriter, r *http.Request) { sseHeaders(w); flush(w, ": subscribed\n\n"); cut(w) },
		func(w http.ResponseWriter, r *http.Request) {
			sseHeaders(w)
			flush(w, ": subscribed\n\n"+sseEvent(40, "A"))
			cut(w)
		},
		func(w http.ResponseWriter, r *http.Request) {
			sseHeaders(w)
			flush(w, ": subscribed\n\n"+sseEvent(40, "A")+sseEvent(41, "A"))
			<-hold
		},
	}, fallback: func(w http.ResponseWriter, r *http.Request) { sseHeaders(w); <-hold }}
	srv := httptest.NewServer(f)
	defer srv.Close()
	defer close(hold) // before srv.Close, which waits for the handlers
	c := fastClient(t, srv.URL)
	sub, err := c.SubscribeStream(testCtx(t, 10*time.Second), "s-1", client.StreamSubscribeOptions{FromVersion: 7, Raw: true})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if got := positionsOf(receive(t, sub, 2, 5*time.Second)); !slices.Equal(got, []uint64{40, 41}) {
		t.Fatalf("positions: %v", got)
	}
	ids, queries := f.seen()
	if len(ids) != 3 || !slices.Equal(ids, []string{"", "", "40"}) ||
		!slices.Equal(queries, []string{"fromVersion=7&upcast=false", "fromVersion=7&upcast=false", "upcast=false"}) {
		t.Fatalf("connections: ids %q queries %q", ids, queries)
	}
}

func TestSubscriptionEnds(t *testing.T) {
	ctx := testCtx(t, 10*time.Second)

	// A 4xx on reconnecting ends it with that error.
	f := &fakeSSE{
		script: []func(http.ResponseWriter, *http.Request){func(w http.ResponseWriter, r *http.Request) {
			sseHeaders(w)
			flush(w, sseEvent(1, "A"))
		}},
		fallback: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `{"success":false,"error":"role too low","code":"forbidden"}`)
		},
	}
	srv := httptest.NewServer(f)
	defer srv.Close()
	sub, err := fastClient(t, srv.URL).Subscribe(ctx, client.SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	receive(t, sub, 1, 5*time.Second)
	<-sub.Done()
	if !errors.Is(sub.Err(), client.ErrForbidden) {
		t.Fatalf("after a 403: %v", sub.Err())
	}
	if _, ok := <-sub.Events(); ok {
		t.Fatal("Events still open")
	}

	// MaxReconnects failed attempts in a row end it.
	f2 := &fakeSSE{
		script: []func(http.ResponseWriter, *http.Request){func(w http.ResponseWriter, r *http.Request) { sseHeaders(w) }},
		fallback: func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusServiceUnavailable)
		},
	}
	srv2 := httptest.NewServer(f2)
	defer srv2.Close()
	sub, err = fastClient(t, srv2.URL).Subscribe(ctx, client.SubscribeOptions{ReconnectOptions: client.ReconnectOptions{MaxReconnects: 3}})
	if err != nil {
		t.Fatal(err)
	}
	<-sub.Done()
	if ids, _ := f2.seen(); !errors.Is(sub.Err(), client.ErrUnavailable) || len(ids) != 4 {
		t.Fatalf("after 3 failed reconnects: %v (%d connections)", sub.Err(), len(ids))
	}

	// A message that is not an event ends it.
	f3 := &fakeSSE{fallback: func(w http.ResponseWriter, r *http.Request) {
		sseHeaders(w)
		flush(w, "id: 1\nevent: A\ndata: not json\n\n")
	}}
	srv3 := httptest.NewServer(f3)
	defer srv3.Close()
	sub, err = fastClient(t, srv3.URL).Subscribe(ctx, client.SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	<-sub.Done()
	if sub.Err() == nil || !strings.Contains(sub.Err().Error(), "subscription message") {
		t.Fatalf("after a bad message: %v", sub.Err())
	}

	// Not an event stream at all: Subscribe fails.
	srv4 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "{}") }))
	defer srv4.Close()
	if _, err := fastClient(t, srv4.URL).Subscribe(ctx, client.SubscribeOptions{}); err == nil {
		t.Fatal("subscribed to a JSON answer")
	}
}
