package server

import (
	"net/http"
	"path"
	"regexp"
	"strings"
	"testing"
)

// The console's files: served open (even with keys), with their content
// types, revalidated by ETag; /ui redirects to /ui/. (The console itself is
// tested in a browser by cmd/eventd's TestConsoleInBrowser.)
func TestUIFiles(t *testing.T) {
	keys, err := ParseKeys(strings.NewReader("r-key read\n"))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, Config{Auth: keys})
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	for _, p := range []string{"/ui", "/ui?x=1"} {
		res, err := noRedirect.Get(e.ts.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		want := "/ui/" + strings.TrimPrefix(p, "/ui")
		if res.StatusCode != http.StatusMovedPermanently || res.Header.Get("Location") != want {
			t.Fatalf("GET %s: %d Location %q, want 301 %s", p, res.StatusCode, res.Header.Get("Location"), want)
		}
	}

	for p, ctype := range map[string]string{
		"/ui/":            "text/html; charset=utf-8",
		"/ui/index.html":  "text/html; charset=utf-8",
		"/ui/app.css":     "text/css; charset=utf-8",
		"/ui/js/app.js":   "text/javascript; charset=utf-8",
		"/ui/favicon.svg": "image/svg+xml",
	} {
		r := e.get(p) // no key: the files hold no data
		if r.status != 200 || r.header.Get("Content-Type") != ctype || len(r.body) == 0 {
			t.Fatalf("GET %s: %d %q (%d bytes), want 200 %s", p, r.status, r.header.Get("Content-Type"), len(r.body), ctype)
		}
		if r.header.Get("Cache-Control") != "no-cache" || r.header.Get("ETag") == "" || r.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("GET %s: headers %v", p, r.header)
		}
		if again := e.get(p, "If-None-Match", r.header.Get("ETag")); again.status != http.StatusNotModified {
			t.Fatalf("GET %s with its ETag: %d, want 304", p, again.status)
		}
		if head := e.do("HEAD", p, nil); head.status != 200 || len(head.body) != 0 || head.header.Get("Content-Type") != ctype {
			t.Fatalf("HEAD %s: %d, %d bytes", p, head.status, len(head.body))
		}
	}
	if csp := e.get("/ui/").header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe") {
		t.Fatalf("CSP %q", csp)
	}
	for _, p := range []string{"/ui/nope.js", "/ui/js/", "/ui/../server.go", "/ui/js/../../ui.go"} {
		if r := e.get(p); r.status != 404 {
			t.Fatalf("GET %s: %d, want 404", p, r.status)
		}
	}
	// The API stays behind the key.
	e.get("/api/streams").fail(t, 401, codeUnauthorized)
	if r := e.do("POST", "/ui/", "{}"); r.status != http.StatusMethodNotAllowed {
		t.Fatalf("POST /ui/: %d", r.status)
	}
}

// Every module the console imports is embedded (a missing file would only
// show as a broken page).
func TestUIImportsResolve(t *testing.T) {
	imports := regexp.MustCompile(`(?m)(?:^import\s[^;]*?\sfrom\s+|\bimport\()'([^']+)'`)
	refs := regexp.MustCompile(`(?:src|href)="([^"#:]+)"`)
	n := 0
	for name, f := range uiFiles {
		var targets []string
		switch path.Ext(name) {
		case ".js":
			for _, m := range imports.FindAllStringSubmatch(string(f.body), -1) {
				targets = append(targets, m[1])
			}
		case ".html":
			for _, m := range refs.FindAllStringSubmatch(string(f.body), -1) {
				targets = append(targets, m[1])
			}
		}
		for _, to := range targets {
			n++
			p := path.Join(path.Dir(name), to)
			if _, ok := uiFiles[p]; !ok {
				t.Errorf("%s refers to %s (%s): not embedded", name, to, p)
			}
		}
	}
	if n < 20 {
		t.Fatalf("only %d references found: the patterns no longer match the sources", n)
	}
}
