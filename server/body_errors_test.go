package server

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// bodySamples are a path for every route that reads a request body.
var bodySamples = map[string]string{
	"POST /api/events":                           "/api/events",
	"POST /api/streams/:streamId/events":         "/api/streams/b-1/events",
	"POST /api/events/:streamId/replay":          "/api/events/b-1/replay",
	"POST /api/commands":                         "/api/commands",
	"PUT /api/command-handlers/:commandType":     "/api/command-handlers/Open",
	"POST /api/projections":                      "/api/projections",
	"POST /api/projections/:projectionId/pause":  "/api/projections/p/pause",
	"POST /api/projections/:projectionId/resume": "/api/projections/p/resume",
	"POST /api/projections/:projectionId/reset":  "/api/projections/p/reset",
	"PUT /api/reducers/:name":                    "/api/reducers/r",
	"PUT /api/schemas/:eventType":                "/api/schemas/T",
	"POST /api/snapshots":                        "/api/snapshots",
	"DELETE /api/projections/:projectionId":      "", // reads no body
}

// TestBodyErrorsOnEveryBodyRoute: every route that reads a body answers a
// compressed one 415 and a stalled one 408, as openapi.json documents
// (checkAnswer validates both answers against the operation).
func TestBodyErrorsOnEveryBodyRoute(t *testing.T) {
	e, _ := newProjectionEnv(t, Config{BodyTimeout: 200 * time.Millisecond})
	c := newCmdEnv(t, Config{BodyTimeout: 200 * time.Millisecond})
	sc := newSchemaEnv(t)
	sn := newSnapshotEnv(t)
	for _, x := range []*testEnv{sc, sn} {
		x.srv.cfg.BodyTimeout = 200 * time.Millisecond // before their first request
	}
	for _, rt := range e.srv.routes() {
		if rt.method != http.MethodPost && rt.method != http.MethodPut && rt.method != http.MethodDelete {
			continue
		}
		key := rt.method + " " + rt.path
		p, ok := bodySamples[key]
		if !ok {
			t.Errorf("%s: no sample path in this test", key)
			continue
		}
		if p == "" {
			continue
		}
		env := e.testEnv()
		switch {
		case strings.Contains(p, "command"):
			env = c.testEnv
		case strings.Contains(p, "schemas"):
			env = sc
		case strings.Contains(p, "snapshots"):
			env = sn
		}
		r := env.sendBytes(rt.method, p, []byte("\x1f\x8b"), "Content-Encoding", "gzip", "Content-Type", "application/json")
		if r.status != http.StatusUnsupportedMediaType {
			t.Errorf("%s with Content-Encoding: gzip: %d %s", key, r.status, r.body)
		}
		status, body := env.stalledBody(t, rt.method, p)
		if status != http.StatusRequestTimeout {
			t.Errorf("%s with a stalled body: %d %s", key, status, body)
		}
	}
}

// TestOptionsEncodedSlash: OPTIONS on a path whose stream id holds an
// encoded slash is refused 400 before routing, as openapi.json documents
// (e.do checks the answer against it).
func TestOptionsEncodedSlash(t *testing.T) {
	e := newEnv(t, Config{})
	e.do("OPTIONS", "/api/events/a%2Fb", nil).fail(t, http.StatusBadRequest, codeInvalidStreamID)
	e.do("OPTIONS", "/api/streams/a%2fb/events", nil).fail(t, http.StatusBadRequest, codeInvalidStreamID)
}

func (e *testEnv) testEnv() *testEnv { return e }

// stalledBody sends the head of a request whose body never arrives and
// checks the answer against openapi.json.
func (e *testEnv) stalledBody(t *testing.T, method, path string) (int, []byte) {
	t.Helper()
	conn, err := net.Dial("tcp", e.ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, method+" "+path+" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 50\r\n\r\n{"); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("%s %s: no answer: %v", method, path, err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	req, _ := http.NewRequest(method, e.ts.URL+path, nil)
	checkAnswer(t, req, res.StatusCode, res.Header, b)
	return res.StatusCode, b
}

// TestOpenAPIDocuments503ForTheConnectionCap: every operation may be 503
// with Retry-After: past --max-connections (ConnLimiter.Handler; /health
// and /metrics are served, and /health is 503 when degraded) and while the
// daemon starts (Starting).
func TestOpenAPIDocuments503ForTheConnectionCap(t *testing.T) {
	var doc struct {
		Paths      map[string]map[string]struct{ Responses map[string]any }
		Components struct {
			Responses map[string]struct{ Headers map[string]any }
		}
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Components.Responses["Unavailable"].Headers["Retry-After"] == nil {
		t.Error("components.responses.Unavailable has no Retry-After header")
	}
	for p, ops := range doc.Paths {
		for m, op := range ops {
			if op.Responses["503"] == nil {
				t.Errorf("%s %s: no 503", m, p)
			}
			// An encoded slash in a stream id is refused before routing,
			// OPTIONS included.
			if m == "options" && strings.Contains(p, "{") && op.Responses["400"] == nil {
				t.Errorf("%s %s: no 400", m, p)
			}
		}
	}
}
