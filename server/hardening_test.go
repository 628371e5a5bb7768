package server

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// sendBytes is e.do for a body of raw bytes, whatever its answer's
// content type (checked against openapi.json all the same).
func (e *testEnv) sendBytes(method, path string, body []byte, hdr ...string) *reply {
	e.t.Helper()
	req, err := http.NewRequest(method, e.ts.URL+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := e.hc.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	checkAnswer(e.t, req, res.StatusCode, res.Header, b)
	r := &reply{status: res.StatusCode, header: res.Header, body: b}
	if err := json.Unmarshal(b, &r.v); err != nil {
		e.t.Fatalf("%s %s: %v: %s", method, path, err, b)
	}
	return r
}

// rawRequest sends req over a new connection, waits up to d for the
// answer and returns it with its body.
func (e *testEnv) rawRequest(t *testing.T, req string, d time.Duration) (*http.Response, string) {
	t.Helper()
	c, err := net.Dial("tcp", e.ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(d))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res, string(b)
}

// TestBodyTimeout: a body that does not arrive in time is 408 (and the
// connection is closed), without the sockets' addresses in the message,
// whether its length was declared or not.
func TestBodyTimeout(t *testing.T) {
	e := newEnv(t, Config{BodyTimeout: 300 * time.Millisecond})
	for name, req := range map[string]string{
		"content-length": "POST /api/events HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"streamId\":",
		"large":          "POST /api/streams/s-1/events HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n{\"events\":[",
		"chunked":        "POST /api/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"str",
	} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			res, body := e.rawRequest(t, req, 10*time.Second)
			if res.StatusCode != http.StatusRequestTimeout {
				t.Fatalf("want 408, got %d: %s", res.StatusCode, body)
			}
			if !res.Close {
				t.Error("a 408 must close the connection")
			}
			if strings.Contains(body, "127.0.0.1") || strings.Contains(body, "tcp") {
				t.Errorf("the message names the sockets: %s", body)
			}
			if !strings.Contains(body, `"code":"bad_request"`) || !strings.Contains(body, "did not arrive within 300ms") {
				t.Errorf("body: %s", body)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("answered after %v", d)
			}
		})
	}
	// A body cut short by the client is still 400, without addresses.
	res, body := e.rawRequest(t, "POST /api/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 5*time.Second)
	if res.StatusCode != 400 || strings.Contains(body, "127.0.0.1") {
		t.Fatalf("malformed chunked body: %d %s", res.StatusCode, body)
	}
	if n := e.store.Head(); n != 0 {
		t.Fatalf("%d events written", n)
	}
}

// TestContentEncoding: bodies are not decompressed, so an encoded body is
// 415 on every route that reads one, whatever its bytes; identity is fine.
func TestContentEncoding(t *testing.T) {
	e := newEnv(t, Config{})
	plain := `{"streamId":"enc-1","eventType":"T","eventData":{}}`
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write([]byte(plain))
	_ = zw.Close()
	for _, tc := range []struct {
		method, path, enc string
		body              []byte
	}{
		{"POST", "/api/events", "gzip", []byte(plain)}, // says gzip, is not
		{"POST", "/api/events", "gzip", gz.Bytes()},
		{"POST", "/api/events", "br", []byte(plain)},
		{"POST", "/api/events", "identity, gzip", []byte(plain)},
		{"POST", "/api/streams/enc-1/events", "deflate", []byte(`{"events":[{"eventType":"T","eventData":{}}]}`)},
		{"POST", "/api/events/enc-1/replay", "gzip", []byte(`{}`)},
		{"PUT", "/api/reducers/enc", "gzip", []byte(`{"handlers":{"T":{"op":"merge"}}}`)},
	} {
		r := e.sendBytes(tc.method, tc.path, tc.body, "Content-Encoding", tc.enc)
		r.fail(t, http.StatusUnsupportedMediaType, codeBadRequest)
		if got := r.header.Get("Accept-Encoding"); got != "identity" {
			t.Errorf("%s %s: Accept-Encoding %q", tc.path, tc.enc, got)
		}
	}
	if n := e.store.Head(); n != 0 {
		t.Fatalf("%d events written", n)
	}
	e.post("/api/events", plain, "Content-Encoding", "identity").ok(t, 201)
	e.post("/api/events", plain).ok(t, 201)
}

// TestEscapedFieldNames: the hand-written append, batch and replay parsers
// refuse a field name written with escapes, saying so, even when it spells
// a field they take; nothing is written.
func TestEscapedFieldNames(t *testing.T) {
	e := newEnv(t, Config{})
	e.add("esc-1", "T", M{})
	for _, tc := range []struct{ path, body string }{
		{"/api/events", `{"streamId":"esc-1","eventType":"T","eventData":{},"exp\u0065ctedVersion":0}`},
		{"/api/events", `{"str\u0065amId":"esc-1","eventType":"T","eventData":{}}`},
		{"/api/events", `{"streamId":"esc-1","eventType":"T","eventData":{},"\u0078":1}`},
		{"/api/streams/esc-1/events", `{"exp\u0065ctedVersion":0,"events":[{"eventType":"T","eventData":{}}]}`},
		{"/api/streams/esc-1/events", `{"\u0065vents":[{"eventType":"T","eventData":{}}]}`},
		{"/api/streams/esc-1/events", `{"events":[{"eventType":"T","eventData":{},"event\u0049d":"x"}]}`},
		{"/api/events/esc-1/replay", `{"toV\u0065rsion":1}`},
		{"/api/events/esc-1/replay", `{"toV\u0065rsion":null}`},
	} {
		r := e.post(tc.path, tc.body)
		r.fail(t, 400, codeBadRequest)
		if msg := r.v["error"].(string); !strings.Contains(msg, "written with escapes") || !strings.Contains(msg, "without escapes") {
			t.Errorf("%s %s: %s", tc.path, tc.body, msg)
		}
	}
	if n := e.store.Head(); n != 1 {
		t.Fatalf("%d events stored, want 1", n)
	}
	// Escapes inside values are fine.
	e.post("/api/events", `{"streamId":"esc-1","eventType":"T","eventData":{"k\u0065y":"v\u0061lue"}}`).ok(t, 201)
}

// TestAuthKeysDuplicate: a key on two lines stops the start, naming both
// lines and never the key, whatever the roles.
func TestAuthKeysDuplicate(t *testing.T) {
	for _, file := range []string{
		"s3cret read\nother write\ns3cret admin\n",
		"s3cret read\nother write\n  s3cret   read  \n",
	} {
		_, err := ParseKeys(strings.NewReader(file))
		if err == nil {
			t.Fatalf("%q: want an error", file)
		}
		if msg := err.Error(); !strings.Contains(msg, "line 3") || !strings.Contains(msg, "line 1") || strings.Contains(msg, "s3cret") {
			t.Fatalf("%q: %v", file, err)
		}
	}
	if _, err := ParseKeys(strings.NewReader("a read\nb read\n")); err != nil {
		t.Fatal(err)
	}
}

// TestAccessLog: one line per request, refused ones too, with the route's
// pattern and the key's fingerprint, never a path, a key, a token or a
// body.
func TestAccessLog(t *testing.T) {
	keys, err := ParseKeys(strings.NewReader("r-key-secret read\nw-key-secret write\n"))
	if err != nil {
		t.Fatal(err)
	}
	log := &lockedBuffer{}
	e := newEnv(t, Config{Auth: keys, AccessLog: slog.New(slog.NewTextHandler(log, nil))})
	fp := func(k string) string { h := sha256.Sum256([]byte(k)); return hex.EncodeToString(h[:4]) }
	bearer := func(k string) []string { return []string{"Authorization", "Bearer " + k} }

	e.post("/api/events", M{"streamId": "private-stream-77", "eventType": "T", "eventData": M{"body": "body-secret"}}).fail(t, 401, codeUnauthorized)
	e.post("/api/events", M{"streamId": "private-stream-77", "eventType": "T", "eventData": M{}}, bearer("r-key-secret")...).fail(t, 403, codeForbidden)
	e.post("/api/events", M{"streamId": "private-stream-77", "eventType": "T", "eventData": M{"body": "body-secret"}}, bearer("w-key-secret")...).ok(t, 201)
	e.get("/api/events/private-stream-77?limit=5", bearer("r-key-secret")...).ok(t, 200)
	e.get("/api/events/private-stream-77", bearer("unknown-key-secret")...).fail(t, 401, codeUnauthorized)
	e.get("/no/such/private-stream-77").fail(t, 404, codeNotFound)
	e.get("/health")
	c := e.subscribe(t, "/api/streams/private-stream-77/subscribe?fromVersion=0&access_token=r-key-secret")
	c.events(t, 1)
	c.cancel()

	want := []string{
		`method=POST route=/api/events status=401 `,
		`method=POST route=/api/events status=403 .* key=` + fp("r-key-secret"),
		`method=POST route=/api/events status=201 .* key=` + fp("w-key-secret"),
		`method=GET route=/api/events/:streamId status=200 .* key=` + fp("r-key-secret"),
		`method=GET route=/api/events/:streamId status=401 .* key=` + fp("unknown-key-secret"),
		`method=GET route=- status=404 .* key=-`,
		`method=GET route=/health status=200 .* key=-`,
		`method=GET route=/api/streams/:streamId/subscribe status=200 .* key=` + fp("r-key-secret"),
	}
	var lines []string
	eventually(t, 5*time.Second, "the subscription's access line", func() bool {
		lines = strings.Split(strings.TrimSpace(log.String()), "\n")
		return len(lines) >= len(want)
	})
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), log.String())
	}
	for i, w := range want {
		pre, post, _ := strings.Cut(w, " .* ")
		if !strings.Contains(lines[i], "msg=request "+pre) || !strings.Contains(lines[i], post) ||
			!strings.Contains(lines[i], " duration=") || !strings.Contains(lines[i], " remote=127.0.0.1:") {
			t.Errorf("line %d: %s\nwant %s", i, lines[i], w)
		}
	}
	for _, secret := range []string{"secret", "private-stream", "access_token", "limit="} {
		if strings.Contains(log.String(), secret) {
			t.Errorf("the access log holds %q:\n%s", secret, log.String())
		}
	}
}

// limitedEnv serves e's API through a ConnLimiter of max connections and
// one spare slot, as cmd/eventd does.
func limitedEnv(t *testing.T, max int) (*testEnv, *ConnLimiter, string) {
	t.Helper()
	e := newEnv(t, Config{Heartbeat: 50 * time.Millisecond})
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := LimitListener(tcp, max, LimitOptions{Spare: 1, SpareTimeout: 2 * time.Second, Logger: discardLogger(), Metrics: e.srv.metrics})
	hs := &http.Server{Handler: ln.Handler(e.srv), ConnState: ln.ConnState, ConnContext: ln.ConnContext, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = hs.Serve(ln) }()
	t.Cleanup(func() {
		e.srv.CloseStreams()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(ctx)
	})
	return e, ln, "http://" + tcp.Addr().String()
}

// getOnce sends one request on its own connection; closed: the answer
// said Connection: close.
func getOnce(t *testing.T, url string) (code int, h http.Header, closed bool) {
	t.Helper()
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	res, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	checkAnswer(t, res.Request, res.StatusCode, res.Header, b) // the 503 too
	return res.StatusCode, res.Header, res.Close
}

// TestConnectionLimit: past --max-connections a spare slot answers /health
// and /metrics, and 503 to the rest; past the spare slots a connection is
// closed at once; an idle keep-alive connection makes room for a new one.
func TestConnectionLimit(t *testing.T) {
	e, ln, base := limitedEnv(t, 2)
	m := e.srv.metrics

	// Two subscriptions hold both slots.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var subs []*http.Response
	for range 2 {
		req, _ := http.NewRequestWithContext(ctx, "GET", base+"/api/subscribe", nil)
		res, err := (&http.Transport{}).RoundTrip(req)
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("subscribe: %v %v", res, err)
		}
		subs = append(subs, res)
	}
	spareFree := func() { // the last answer's connection is closed
		eventually(t, 5*time.Second, "the spare slot freed", func() bool {
			ln.mu.Lock()
			defer ln.mu.Unlock()
			return ln.spareOpen == 0
		})
	}
	if code, h, closed := getOnce(t, base+"/api/streams"); code != 503 || h.Get("Retry-After") == "" || !closed {
		t.Fatalf("over the limit: %d %v (Connection: close %v)", code, h, closed)
	}
	spareFree()
	// OPTIONS too, as openapi.json documents.
	oreq, _ := http.NewRequest("OPTIONS", base+"/api/events", nil)
	ores, err := (&http.Transport{}).RoundTrip(oreq)
	if err != nil || ores.StatusCode != 503 || ores.Header.Get("Retry-After") == "" {
		t.Fatalf("OPTIONS over the limit: %v %v", ores, err)
	}
	ob, _ := io.ReadAll(ores.Body)
	ores.Body.Close()
	checkAnswer(t, oreq, ores.StatusCode, ores.Header, ob)
	spareFree()
	if code, _, closed := getOnce(t, base+"/health"); code != 200 || !closed {
		t.Fatalf("/health over the limit: %d (Connection: close %v)", code, closed)
	}
	spareFree()
	if code, _, _ := getOnce(t, base+"/metrics"); code != 200 {
		t.Fatalf("/metrics over the limit: %d", code)
	}
	spareFree()
	// A silent client takes the spare slot: the next connection is closed
	// at once, without an answer.
	silent, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	eventually(t, 5*time.Second, "the spare slot taken", func() bool {
		ln.mu.Lock()
		defer ln.mu.Unlock()
		return ln.spareOpen == 1
	})
	c, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	fmt.Fprintf(c, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
	if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil || isTimeout(err) {
		t.Fatalf("a connection past the spare slots: read %d, %v; want it closed", n, err)
	}
	c.Close()
	if v := metricValue(t, m, "eventd_connections_refused_total", "how", "closed"); v < 1 {
		t.Fatalf("refused closed: %v", v)
	}
	// The spare slot's deadline frees it.
	spareFree()

	// The subscriptions end; two keep-alive connections go idle; a third
	// client takes the place of the longest idle one.
	cancel()
	for _, r := range subs {
		r.Body.Close()
	}
	eventually(t, 5*time.Second, "subscriptions closed", func() bool { return e.store.Stats().Subscribers == 0 })
	eventually(t, 5*time.Second, "their slots freed", func() bool {
		ln.mu.Lock()
		defer ln.mu.Unlock()
		return ln.open == 0
	})
	keep := []*http.Client{{Transport: &http.Transport{}}, {Transport: &http.Transport{}}}
	for _, c := range keep {
		res, err := c.Get(base + "/health")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	eventually(t, 5*time.Second, "two idle connections", func() bool {
		ln.mu.Lock()
		defer ln.mu.Unlock()
		return len(ln.idle) == 2
	})
	if code, _, _ := getOnce(t, base+"/api/streams"); code != 200 {
		t.Fatalf("with idle connections to close: %d", code)
	}
	if v := metricValue(t, m, "eventd_connections_idle_closed_total"); v != 1 {
		t.Fatalf("idle connections closed: %v", v)
	}
	// The client whose idle connection was closed simply opens a new one.
	for _, c := range keep {
		res, err := c.Get(base + "/health")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
}
