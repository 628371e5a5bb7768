package client_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventd/eventd/client"
)

var fastRetry = client.WithRetry(client.RetryPolicy{MaxAttempts: 4, InitialBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond})

// flaky answers 503 to the first `fail` requests, then a fixed success.
func flaky(t *testing.T, fail int32, status int, body string) (*httptest.Server, *atomic.Int32) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= fail {
			w.WriteHeader(status)
			fmt.Fprint(w, `{"success":false,"error":"try later","code":"unavailable"}`)
			return
		}
		w.WriteHeader(http.StatusCreated)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

const appendOK = `{"success":true,"data":{"eventId":"e","streamId":"s","version":1,"eventType":"E","timestamp":"2024-01-15T10:30:00.000Z","position":1}}`

func TestRetryOnlyWhenSafe(t *testing.T) {
	ctx := testCtx(t, 20*time.Second)
	cases := []struct {
		name     string
		fail     int32
		status   int
		call     func(c *client.Client) error
		attempts int32
		wantErr  bool
	}{
		{"GET retried after 503s", 2, 503, func(c *client.Client) error {
			_, err := c.Stream(ctx, "s")
			return err
		}, 3, false},
		{"append with an id retried", 2, 503, func(c *client.Client) error {
			_, err := c.Append(ctx, "s", "E", nil, client.WithEventID("id-1"))
			return err
		}, 3, false},
		{"append without an id not retried", 2, 503, func(c *client.Client) error {
			_, err := c.Append(ctx, "s", "E", nil)
			return err
		}, 1, true},
		{"batch with some ids not retried", 2, 503, func(c *client.Client) error {
			_, err := c.AppendBatch(ctx, "s", []client.NewEvent{{EventType: "E", EventID: "a"}, {EventType: "E"}})
			return err
		}, 1, true},
		{"command without an id not retried", 2, 503, func(c *client.Client) error {
			_, err := c.SendCommand(ctx, client.Command{Type: "X"})
			return err
		}, 1, true},
		{"attempts are bounded", 10, 503, func(c *client.Client) error {
			_, err := c.Stream(ctx, "s")
			return err
		}, 4, true},
		{"4xx never retried", 10, 409, func(c *client.Client) error {
			_, err := c.Stream(ctx, "s")
			return err
		}, 1, true},
		{"500 not retried", 10, 500, func(c *client.Client) error {
			_, err := c.Append(ctx, "s", "E", nil, client.WithEventID("id-1"))
			return err
		}, 1, true},
		{"health 503 is an answer", 10, 503, func(c *client.Client) error {
			_, err := c.Health(ctx)
			return err
		}, 1, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, n := flaky(t, tc.fail, tc.status, appendOK)
			c, err := client.New(srv.URL, fastRetry)
			if err != nil {
				t.Fatal(err)
			}
			err = tc.call(c)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v", err)
			}
			if got := n.Load(); got != tc.attempts {
				t.Fatalf("%d attempts, want %d", got, tc.attempts)
			}
		})
	}

	// WithAutoIDs makes a plain append retryable, with the same id each time.
	var (
		mu  sync.Mutex
		ids []string
		n   atomic.Int32
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ EventID string }
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &body)
		mu.Lock()
		ids = append(ids, body.EventID)
		mu.Unlock()
		if n.Add(1) < 3 {
			w.WriteHeader(503)
			return
		}
		w.WriteHeader(201)
		fmt.Fprint(w, appendOK)
	}))
	defer srv.Close()
	c, _ := client.New(srv.URL, fastRetry, client.WithAutoIDs())
	if _, err := c.Append(ctx, "s", "E", nil); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(ids) != 3 || ids[0] == "" || ids[0] != ids[1] || ids[1] != ids[2] {
		t.Fatalf("ids sent: %v", ids)
	}
}

// TestRetryAfterDialError: a request that could not connect is retried
// whatever its kind, since nothing reached the daemon.
func TestRetryAfterDialError(t *testing.T) {
	addr, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int32
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(201)
		fmt.Fprint(w, appendOK)
	})}
	defer srv.Close()
	go func() {
		time.Sleep(150 * time.Millisecond)
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Error(err)
			return
		}
		_ = srv.Serve(l)
	}()
	c, _ := client.New("http://"+addr, client.WithRetry(client.RetryPolicy{MaxAttempts: 30, InitialBackoff: 20 * time.Millisecond, MaxBackoff: 50 * time.Millisecond}))
	if _, err := c.Append(testCtx(t, 20*time.Second), "s", "E", nil); err != nil {
		t.Fatal(err)
	}
	if n.Load() != 1 {
		t.Fatalf("%d requests reached the server", n.Load())
	}
}

// dropProxy forwards requests to the daemon but loses the answer of the
// first `drop` of them: the daemon did the work, the client sees a broken
// connection.
type dropProxy struct {
	target string
	drop   int32
	n      atomic.Int32
}

func (p *dropProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	req, _ := http.NewRequestWithContext(r.Context(), r.Method, p.target+r.URL.RequestURI(), bytes.NewReader(body))
	req.Header = r.Header.Clone()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if p.n.Add(1) <= p.drop {
		conn, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	}
	for k, v := range res.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(res.StatusCode)
	_, _ = w.Write(b)
}

// TestLostAnswerRetriedAgainstDaemon: the first answer of each write is
// lost; writes with ids are retried and the daemon recognises the repeat.
func TestLostAnswerRetriedAgainstDaemon(t *testing.T) {
	d := startDaemon(t)
	direct := newClient(t, d)
	ctx := testCtx(t, 30*time.Second)

	proxied := func(drop int32, opts ...client.Option) (*client.Client, *dropProxy) {
		p := &dropProxy{target: d.URL, drop: drop}
		srv := httptest.NewServer(p)
		t.Cleanup(srv.Close)
		c, err := client.New(srv.URL, append([]client.Option{fastRetry}, opts...)...)
		if err != nil {
			t.Fatal(err)
		}
		return c, p
	}

	c, p := proxied(1, client.WithAutoIDs())
	r, err := c.Append(ctx, "lost-1", "E", map[string]int{"n": 1}, client.WithExpectedVersion(client.NoStream))
	if err != nil {
		t.Fatal(err)
	}
	if !r.Duplicate || r.Version != 1 || p.n.Load() != 2 {
		t.Fatalf("retried append: %+v after %d sends", r, p.n.Load())
	}
	c, _ = proxied(1)
	b, err := c.AppendBatch(ctx, "lost-1", []client.NewEvent{{EventType: "E", EventID: "x1"}, {EventType: "E", EventID: "x2"}})
	if err != nil || !b.Duplicate || b.FirstVersion != 2 {
		t.Fatalf("retried batch: %+v %v", b, err)
	}
	c, _ = proxied(1)
	st, err := c.SendCommand(ctx, client.Command{Type: "CreateUser", ID: "cmd-lost",
		Data: map[string]string{"userId": "lost-2", "email": "e@x", "name": "n"}})
	if err != nil || st.Status != client.CommandCompleted || st.Result.Version != 1 {
		t.Fatalf("retried command: %+v %v", st, err)
	}

	// Without an id the client cannot know whether the write happened: it
	// returns the error and does not send again.
	c, p = proxied(1)
	_, err = c.Append(ctx, "lost-3", "E", nil)
	if err == nil || errors.As(err, new(*client.APIError)) || p.n.Load() != 1 {
		t.Fatalf("append without id: %v after %d sends", err, p.n.Load())
	}

	for id, want := range map[string]int{"lost-1": 3, "lost-2": 1, "lost-3": 1} {
		pg, err := direct.ReadStream(ctx, id, client.ReadStreamOptions{})
		if err != nil || len(pg.Events) != want {
			t.Fatalf("%s has %d events (%v), want %d", id, len(pg.Events), err, want)
		}
	}
}

func TestNewValidation(t *testing.T) {
	for _, u := range []string{"", "ftp://x", "http://", "http://h/?q=1", "::"} {
		if _, err := client.New(u); err == nil {
			t.Errorf("New(%q) accepted", u)
		}
	}
	if _, err := client.New("http://h", client.WithAPIKey("a\nb")); err == nil {
		t.Error("key with a newline accepted")
	}
	if _, err := client.New("http://h", client.WithHTTPClient(nil)); err == nil {
		t.Error("nil http.Client accepted")
	}
	c, err := client.New("http://h:1/prefix/", client.WithUserAgent("svc/1"))
	if err != nil || c.BaseURL() != "http://h:1/prefix" {
		t.Fatalf("%v %v", c, err)
	}
	// The User-Agent, key and path prefix are sent.
	reqs := make(chan *http.Request, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqs <- r.Clone(context.Background())
		fmt.Fprint(w, `{"success":true,"data":{"streamId":"a:b@c","currentVersion":1,"createdAt":"2024-01-15T10:30:00.000Z","updatedAt":"2024-01-15T10:30:00.000Z"}}`)
	}))
	defer srv.Close()
	c, _ = client.New(srv.URL+"/eventd", client.WithUserAgent("svc/1"), client.WithAPIKey("k"),
		client.WithHTTPClient(&http.Client{Timeout: 5 * time.Second}))
	if _, err := c.Stream(testCtx(t, 5*time.Second), "a:b@c"); err != nil {
		t.Fatal(err)
	}
	got := <-reqs
	if got.URL.Path != "/eventd/api/streams/a:b@c" || got.Header.Get("User-Agent") != "svc/1" ||
		got.Header.Get("Authorization") != "Bearer k" || !strings.Contains(got.Header.Get("Accept"), "json") {
		t.Fatalf("request: %s %v", got.URL, got.Header)
	}
}
