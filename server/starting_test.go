package server

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestStartingAnswers: the handler served before the store is open answers
// every request 503 with Retry-After, /health with status "starting", as
// openapi.json documents.
func TestStartingAnswers(t *testing.T) {
	ts := httptest.NewServer(Starting(nil))
	defer ts.Close()
	for _, c := range []struct{ method, path string }{
		{"GET", "/health"}, {"HEAD", "/health"}, {"GET", "/metrics"}, {"GET", "/api/streams"},
		{"POST", "/api/events"}, {"OPTIONS", "/api/events"}, {"DELETE", "/api/projections/p"},
	} {
		req, _ := http.NewRequest(c.method, ts.URL+c.path, strings.NewReader(""))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 503 || res.Header.Get("Retry-After") != "1" {
			t.Errorf("%s %s: %d Retry-After %q", c.method, c.path, res.StatusCode, res.Header.Get("Retry-After"))
		}
		var v struct{ Status, Code, Error string }
		if c.method != "HEAD" {
			if err := json.Unmarshal(b, &v); err != nil {
				t.Fatalf("%s %s: %s", c.method, c.path, b)
			}
			if c.path == "/health" && v.Status != "starting" || c.path != "/health" && (v.Code != codeUnavailable || v.Error != "starting") {
				t.Errorf("%s %s: %s", c.method, c.path, b)
			}
		}
		checkAnswer(t, req, res.StatusCode, res.Header, b)
	}
}
