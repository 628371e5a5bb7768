package server

import (
	"net/http"
	"strings"
	"testing"
)

func TestParseCORSOrigins(t *testing.T) {
	for in, want := range map[string]string{
		"":                                   "",
		" * ":                                "*",
		"http://a.example":                   "http://a.example",
		"https://A.example:8443, http://b:1": "https://a.example:8443|http://b:1",
		"HTTP://LOCALHOST:5173":              "http://localhost:5173",
		"http://127.0.0.1:65535":             "http://127.0.0.1:65535",
		"http://[::1]:8080":                  "http://[::1]:8080",
		"https://xn--bcher-kva.example":      "https://xn--bcher-kva.example",
		"https://x:80,http://x:443":          "https://x:80|http://x:443", // not the scheme's default
	} {
		got, err := ParseCORSOrigins(in)
		if err != nil || strings.Join(got, "|") != want {
			t.Errorf("ParseCORSOrigins(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{
		"a.example", "http://a.example/", "http://a.example/x", "ftp://a", "*,http://a", "http://", "http://a?x=1",
		"https://x:443", "http://x:80", "HTTPS://X:443", // default ports: a browser leaves them out
		"http://x:", "http://x:0", "http://x:65536", "http://x:99999", "http://x:080", "http://x:-1", "http://x:a",
		"http://x?", "http://x#", "http://x#f", "http://x/?",
		"https://bücher.example", "http://münchen.de:8080",
		"http://u@x", "http://u:p@x:1", "http://x y", "http://x%41", "http://::1", "//x", "http:x",
	} {
		if got, err := ParseCORSOrigins(bad); err == nil {
			t.Errorf("ParseCORSOrigins(%q) = %q, want an error", bad, got)
		}
	}
	if _, err := ParseCORSOrigins("https://bücher.example"); err == nil || !strings.Contains(err.Error(), "punycode") {
		t.Errorf("a non-ASCII host: %v, want it to name punycode", err)
	}
	if _, err := ParseCORSOrigins("https://x:443"); err == nil || !strings.Contains(err.Error(), "https://x") {
		t.Errorf("a default port: %v, want it to say what to write", err)
	}
}

const testOrigin = "http://app.example:8080"

func TestCORSAllowedOrigin(t *testing.T) {
	keys, err := ParseKeys(strings.NewReader("w-key write\n"))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, Config{Auth: keys, CORSOrigins: []string{testOrigin, "https://other.example"}})

	// A preflight needs no key and lists the route's methods.
	r := e.do("OPTIONS", "/api/streams/s-1/events", nil, "Origin", testOrigin,
		"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "authorization, content-type")
	if r.status != http.StatusNoContent || len(r.body) != 0 {
		t.Fatalf("preflight: %d %s", r.status, r.body)
	}
	h := r.header
	if h.Get("Access-Control-Allow-Origin") != testOrigin || !hasToken(h.Values("Vary"), "Origin") {
		t.Fatalf("preflight: Allow-Origin %q Vary %q", h.Get("Access-Control-Allow-Origin"), h.Values("Vary"))
	}
	for _, m := range []string{"POST", "OPTIONS"} {
		if !hasToken([]string{h.Get("Access-Control-Allow-Methods")}, m) || !hasToken([]string{h.Get("Allow")}, m) {
			t.Errorf("preflight: methods %q, Allow %q: %s missing", h.Get("Access-Control-Allow-Methods"), h.Get("Allow"), m)
		}
	}
	for _, hd := range []string{"Authorization", "Content-Type", "Last-Event-ID", "Prefer"} {
		if !hasToken([]string{h.Get("Access-Control-Allow-Headers")}, hd) {
			t.Errorf("preflight: Allow-Headers %q lacks %s", h.Get("Access-Control-Allow-Headers"), hd)
		}
	}
	if h.Get("Access-Control-Max-Age") == "" || h.Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("preflight: Max-Age %q, Allow-Credentials %q", h.Get("Access-Control-Max-Age"), h.Get("Access-Control-Allow-Credentials"))
	}

	// The actual request: the origin echoed, the headers clients read exposed.
	body := M{"streamId": "c-1", "eventType": "A", "eventData": M{}}
	r = e.post("/api/events", body, "Origin", testOrigin, "Authorization", "Bearer w-key")
	r.ok(t, 201)
	if r.header.Get("Access-Control-Allow-Origin") != testOrigin || !hasToken(r.header.Values("Vary"), "Origin") {
		t.Fatalf("append: Allow-Origin %q Vary %q", r.header.Get("Access-Control-Allow-Origin"), r.header.Values("Vary"))
	}
	for _, hd := range []string{"Location", "ETag", "Retry-After", "Preference-Applied", "WWW-Authenticate", "X-Accel-Buffering"} {
		if !hasToken([]string{r.header.Get("Access-Control-Expose-Headers")}, hd) {
			t.Errorf("Expose-Headers %q lacks %s", r.header.Get("Access-Control-Expose-Headers"), hd)
		}
	}
	// Refusals carry them too (a browser app can read the error).
	r = e.get("/api/streams", "Origin", "https://other.example")
	if r.status != 401 || r.header.Get("Access-Control-Allow-Origin") != "https://other.example" {
		t.Fatalf("401: %d Allow-Origin %q", r.status, r.header.Get("Access-Control-Allow-Origin"))
	}

	// An origin not listed gets no CORS headers, preflight or not.
	for _, method := range []string{"OPTIONS", "GET"} {
		r = e.do(method, "/api/streams", nil, "Origin", "http://evil.example", "Access-Control-Request-Method", "GET")
		for k := range r.header {
			if strings.HasPrefix(k, "Access-Control-") {
				t.Errorf("%s from a disallowed origin: %s: %q", method, k, r.header.Get(k))
			}
		}
		if !hasToken(r.header.Values("Vary"), "Origin") {
			t.Errorf("%s from a disallowed origin: Vary %q", method, r.header.Values("Vary"))
		}
	}
	// OPTIONS on an unknown path is 404.
	if r = e.do("OPTIONS", "/api/nothing", nil, "Origin", testOrigin, "Access-Control-Request-Method", "GET"); r.status != 404 {
		t.Errorf("OPTIONS on an unknown path: %d", r.status)
	}
}

func TestCORSAnyAndOff(t *testing.T) {
	e := newEnv(t, Config{CORSOrigins: []string{"*"}})
	r := e.get("/api/streams", "Origin", "http://x.example:1")
	if r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != "http://x.example:1" {
		t.Fatalf("*: %d %q", r.status, r.header.Get("Access-Control-Allow-Origin"))
	}

	off := newEnv(t, Config{})
	r = off.do("OPTIONS", "/api/events", nil, "Origin", testOrigin, "Access-Control-Request-Method", "POST")
	if r.status != http.StatusNoContent || !hasToken([]string{r.header.Get("Allow")}, "POST") {
		t.Fatalf("OPTIONS without CORS: %d Allow %q (was 405)", r.status, r.header.Get("Allow"))
	}
	r = off.get("/api/streams", "Origin", testOrigin)
	for k := range r.header {
		if strings.HasPrefix(k, "Access-Control-") || k == "Vary" {
			t.Errorf("CORS off: %s: %q", k, r.header.Get(k))
		}
	}
}

// hasToken: one of the comma lists holds tok (case-insensitively).
func hasToken(lists []string, tok string) bool {
	for _, l := range lists {
		for p := range strings.SplitSeq(l, ",") {
			if strings.EqualFold(strings.TrimSpace(p), tok) {
				return true
			}
		}
	}
	return false
}

// A browser sends a cross-origin POST with a text/plain body without a
// preflight (a "simple" request, also in no-cors mode): an Origin that is
// neither allowed nor the daemon's own is refused before anything runs.
func TestCrossOriginWriteRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{{"cors off", Config{}}, {"cors on", Config{CORSOrigins: []string{testOrigin}}}} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.cfg)
			body := `{"streamId":"csrf-1","eventType":"A","eventData":{}}`
			self := "http://" + strings.TrimPrefix(e.ts.URL, "http://")
			post := func(hdr ...string) *reply {
				return e.do("POST", "/api/events", body, append([]string{"Content-Type", "text/plain"}, hdr...)...)
			}
			for _, hdr := range [][]string{
				{"Origin", "http://evil.example"},
				{"Origin", "null"},
				{"Origin", "https://" + strings.TrimPrefix(self, "http://") + ".evil.example"},
				{"Sec-Fetch-Site", "cross-site"},
				{"Sec-Fetch-Site", "same-site"},
			} {
				r := post(hdr...)
				d := r.fail(t, http.StatusForbidden, codeForbidden)
				if msg, _ := d["error"].(string); !strings.Contains(msg, "--cors-origins") {
					t.Errorf("%q: message %q does not say how to allow it", hdr, msg)
				}
				if _, ok := e.store.Stream("csrf-1"); ok || e.store.Head() != 0 {
					t.Fatalf("%q: refused, but the event was written", hdr)
				}
			}
			// DELETE and PUT too (a form cannot send them, fetch can).
			e.do("DELETE", "/api/projections/p", nil, "Origin", "http://evil.example").fail(t, http.StatusForbidden, codeForbidden)
			e.do("PUT", "/api/reducers/r", "{}", "Origin", "http://evil.example").fail(t, http.StatusForbidden, codeForbidden)
			// Reads and preflights are not writes.
			if r := e.get("/api/streams", "Origin", "http://evil.example"); r.status != 200 {
				t.Errorf("GET from another origin: %d", r.status)
			}
			if r := e.do("OPTIONS", "/api/events", nil, "Origin", "http://evil.example"); r.status != 204 {
				t.Errorf("OPTIONS from another origin: %d", r.status)
			}

			// The daemon's own origin (the console), no Origin (curl, Go
			// clients), and Sec-Fetch-Site same-origin or none pass.
			n := 0
			for _, hdr := range [][]string{
				{"Origin", self},
				{"Origin", strings.ToUpper(self)},
				nil,
				{"Sec-Fetch-Site", "same-origin"},
				{"Sec-Fetch-Site", "none"},
			} {
				post(hdr...).ok(t, 201)
				n++
			}
			if tc.cfg.CORSOrigins != nil {
				post("Origin", testOrigin).ok(t, 201)
				n++
			} else {
				post("Origin", testOrigin).fail(t, http.StatusForbidden, codeForbidden)
			}
			if got := e.store.Head(); got != uint64(n) {
				t.Errorf("head %d, want %d", got, n)
			}
		})
	}
}
