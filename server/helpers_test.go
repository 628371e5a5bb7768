package server

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/eventd/eventd/engine"
)

// M keeps JSON literals short.
type M = map[string]any

// testEnv is a server over a real store in a temp dir.
type testEnv struct {
	t     *testing.T
	store *engine.Store
	srv   *Server
	ts    *httptest.Server
	hc    *http.Client
}

func newEnv(t *testing.T, cfg Config) *testEnv {
	t.Helper()
	return newEnvOn(t, cfg, t.TempDir(), engine.Options{Fsync: engine.FsyncNever})
}

// newEnvOn is newEnv over a store opened in dir with opts.
func newEnvOn(t *testing.T, cfg Config, dir string, opts engine.Options) *testEnv {
	t.Helper()
	opts.MaxEventSize, opts.Logger = cfg.MaxEventSize, discardLogger()
	st, err := engine.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Logger == nil {
		cfg.Logger = discardLogger()
	}
	srv := New(st, cfg)
	ts := httptest.NewServer(srv)
	e := &testEnv{t: t, store: st, srv: srv, ts: ts, hc: &http.Client{Timeout: 30 * time.Second}}
	t.Cleanup(func() {
		srv.CloseStreams()
		ts.Close()
		done := make(chan struct{})
		go func() { _ = st.Close(); close(done) }()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			t.Log("store.Close did not return within 2s")
		}
	})
	return e
}

// reply is a decoded answer.
type reply struct {
	status int
	header http.Header
	body   []byte
	v      map[string]any
}

func (e *testEnv) do(method, path string, body any, hdr ...string) *reply {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	case io.Reader:
		rd = b
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.ts.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := e.hc.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	checkAnswer(e.t, req, res.StatusCode, res.Header, b)
	r := &reply{status: res.StatusCode, header: res.Header, body: b}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") && method != http.MethodHead {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.UseNumber()
		if err := dec.Decode(&r.v); err != nil {
			e.t.Fatalf("%s %s: answer is not a JSON object: %v: %s", method, path, err, b)
		}
	}
	return r
}

func (e *testEnv) get(path string, hdr ...string) *reply {
	e.t.Helper()
	return e.do("GET", path, nil, hdr...)
}

func (e *testEnv) post(path string, body any, hdr ...string) *reply {
	e.t.Helper()
	return e.do("POST", path, body, hdr...)
}

// ok asserts a success envelope with status and returns data.
func (r *reply) ok(t *testing.T, status int) map[string]any {
	t.Helper()
	if r.status != status {
		t.Fatalf("want %d, got %d: %s", status, r.status, r.body)
	}
	if r.v["success"] != true {
		t.Fatalf("want success: true: %s", r.body)
	}
	d, _ := r.v["data"].(map[string]any)
	if d == nil {
		t.Fatalf("want data object: %s", r.body)
	}
	return d
}

// fail asserts the error envelope with status and code.
func (r *reply) fail(t *testing.T, status int, code string) map[string]any {
	t.Helper()
	if r.status != status {
		t.Fatalf("want %d %s, got %d: %s", status, code, r.status, r.body)
	}
	if r.v == nil || r.v["success"] != false {
		t.Fatalf("want the error envelope: %s", r.body)
	}
	if msg, _ := r.v["error"].(string); msg == "" {
		t.Fatalf("want a non-empty error string: %s", r.body)
	}
	if got, _ := r.v["code"].(string); got != code {
		t.Fatalf("want code %s, got %q: %s", code, got, r.body)
	}
	return r.v
}

func num(t *testing.T, v any) int64 {
	t.Helper()
	n, ok := v.(json.Number)
	if !ok {
		t.Fatalf("want a number, got %#v", v)
	}
	i, err := n.Int64()
	if err != nil {
		t.Fatalf("want an integer, got %s", n)
	}
	return i
}

func arr(t *testing.T, v any) []any {
	t.Helper()
	a, ok := v.([]any)
	if !ok {
		t.Fatalf("want an array, got %#v", v)
	}
	return a
}

func obj(t *testing.T, v any) map[string]any {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("want an object, got %#v", v)
	}
	return m
}

// add appends one event and returns data.
func (e *testEnv) add(stream, typ string, data M) map[string]any {
	e.t.Helper()
	return e.post("/api/events", M{"streamId": stream, "eventType": typ, "eventData": data}).ok(e.t, 201)
}

// versions lists the versions of an events array.
func versions(t *testing.T, evs []any) []int64 {
	t.Helper()
	out := make([]int64, len(evs))
	for i, e := range evs {
		out[i] = num(t, obj(t, e)["version"])
	}
	return out
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
