package server

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestHEADOnEveryGETRoute: every GET route answers HEAD with the GET's
// status and headers and no body (RFC 9110 §9.3.2); an SSE route answers
// at once, without subscribing.
func TestHEADOnEveryGETRoute(t *testing.T) {
	e, _ := newProjectionEnv(t, Config{})
	e.add("h-1", "A", M{"n": 1})
	e.post("/api/projections", M{"projectionId": "cnt", "name": "c", "kind": "count"}).ok(t, 201)

	// A path for each GET pattern; the test fails when a GET route has none.
	samples := map[string][]string{
		"/api/events/:streamId":              {"/api/events/h-1", "/api/events/nope", "/api/events/h-1?limit=0"},
		"/api/events/:streamId/:fromVersion": {"/api/events/h-1/0"},
		"/api/streams":                       {"/api/streams", "/api/streams?prefix=h-"},
		"/api/streams/:streamId":             {"/api/streams/h-1", "/api/streams/nope"},
		"/api/all":                           {"/api/all", "/api/all?limit=x"},
		"/api/openapi.json":                  {"/api/openapi.json"},
		"/health":                            {"/health"},
		"/metrics":                           {"/metrics"},
		"/api/reducers":                      {"/api/reducers"},
		"/api/reducers/:name":                {"/api/reducers/nope"},
		"/api/schemas":                       {"/api/schemas"},
		"/api/schemas/:eventType":            {"/api/schemas/A"},
		"/api/snapshots/:streamId":           {"/api/snapshots/h-1"},
		"/api/commands/:commandId/status":    {"/api/commands/c1/status"},
		"/api/command-handlers":              {"/api/command-handlers"},
		"/api/command-handlers/:commandType": {"/api/command-handlers/Open"},
		"/api/projections":                   {"/api/projections"},
		"/api/projections/:projectionId":     {"/api/projections/cnt", "/api/projections/nope"},
		"/api/queries/:queryId":              {"/api/queries/cnt"},
		"/ui":                                {"/ui"},
		"/ui/*file":                          {"/ui/", "/ui/nope.js"},
		"/api/subscribe":                     {"/api/subscribe?fromPosition=0", "/api/subscribe?messages=nope"},
		"/api/streams/:streamId/subscribe":   {"/api/streams/h-1/subscribe", "/api/streams/bad%20id/subscribe"},
	}
	noRedirect := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	e.hc = noRedirect
	for _, rt := range e.srv.routes() {
		if rt.method != http.MethodGet {
			continue
		}
		paths := samples[rt.path]
		if len(paths) == 0 {
			t.Errorf("GET %s: no sample path in this test", rt.path)
			continue
		}
		for _, p := range paths {
			// No body: net/http drops what a HEAD handler writes, and Go's
			// client reads none, so only status and headers are compared.
			head := e.do("HEAD", p, nil)
			if rt.sse {
				if want := 200; strings.Contains(p, "nope") || strings.Contains(p, "%20") {
					if head.status != 400 {
						t.Errorf("HEAD %s: %d, want 400", p, head.status)
					}
				} else if head.status != want || head.header.Get("Content-Type") != "text/event-stream" {
					t.Errorf("HEAD %s: %d %q", p, head.status, head.header.Get("Content-Type"))
				}
				continue
			}
			get := e.do("GET", p, nil)
			if head.status != get.status {
				t.Errorf("HEAD %s: %d, GET: %d", p, head.status, get.status)
			}
			for _, h := range []string{"Content-Type", "Location", "ETag", "Cache-Control", "Allow", "WWW-Authenticate"} {
				if head.header.Get(h) != get.header.Get(h) {
					t.Errorf("HEAD %s: %s %q, GET: %q", p, h, head.header.Get(h), get.header.Get(h))
				}
			}
			// A body the server buffered whole has its length in both.
			if cl := head.header.Get("Content-Length"); cl != "" && get.header.Get("Content-Length") != "" && cl != get.header.Get("Content-Length") && rt.path != "/metrics" {
				t.Errorf("HEAD %s: Content-Length %s, GET: %s", p, cl, get.header.Get("Content-Length"))
			}
		}
	}
}

// TestHEADNeedsTheGETsKey: HEAD is authorized like the GET it mirrors.
func TestHEADNeedsTheGETsKey(t *testing.T) {
	keys, err := ParseKeys(strings.NewReader("r-key read\n"))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, Config{Auth: keys})
	for _, p := range []string{"/api/streams", "/metrics", "/api/subscribe"} {
		if r := e.do("HEAD", p, nil); r.status != 401 || r.header.Get("WWW-Authenticate") == "" {
			t.Errorf("HEAD %s without a key: %d %v", p, r.status, r.header)
		}
		if r := e.do("HEAD", p, nil, "Authorization", "Bearer r-key"); r.status != 200 {
			t.Errorf("HEAD %s with a read key: %d", p, r.status)
		}
	}
	if r := e.do("HEAD", "/api/subscribe?access_token=r-key", nil); r.status != 200 || r.header.Get("Content-Type") != "text/event-stream" {
		t.Errorf("HEAD /api/subscribe?access_token=: %d %q", r.status, r.header.Get("Content-Type"))
	}
	if r := e.do("HEAD", "/health", nil); r.status != 200 {
		t.Errorf("HEAD /health without a key: %d", r.status)
	}
}

// TestHEADOpensNoSubscription: HEAD on the SSE routes answers the headers
// and ends, with Connection: close the connection closes, and no
// subscription is opened (eventd_subscribers stays 0 throughout).
func TestHEADOpensNoSubscription(t *testing.T) {
	e := newEnv(t, Config{})
	e.add("hs-1", "A", M{})
	subscribers := func() float64 { return metricValue(t, e.srv.metrics, "eventd_subscribers") }
	for _, p := range []string{"/api/subscribe", "/api/subscribe?fromPosition=0", "/api/streams/hs-1/subscribe", "/api/streams/hs-1/subscribe?fromVersion=0"} {
		conn, err := net.Dial("tcp", e.ts.Listener.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintf(conn, "HEAD %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", p)
		br := bufio.NewReader(conn)
		res, err := http.ReadResponse(br, &http.Request{Method: "HEAD"})
		if err != nil || res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
			t.Fatalf("HEAD %s: %v %v", p, res, err)
		}
		if n := subscribers(); n != 0 {
			t.Errorf("HEAD %s: %v subscribers while the connection is open", p, n)
		}
		// Nothing follows the headers: the server closes the connection.
		if b, err := io.ReadAll(br); err != nil || len(b) != 0 {
			t.Errorf("HEAD %s: after the headers %q, %v (want the connection closed)", p, b, err)
		}
		conn.Close()
		if n := subscribers(); n != 0 || e.store.Stats().Subscribers != 0 {
			t.Errorf("HEAD %s: %v subscribers after", p, n)
		}
	}
}
