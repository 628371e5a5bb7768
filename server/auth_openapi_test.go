package server

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func TestAuthRoles(t *testing.T) {
	keys, err := ParseKeys(strings.NewReader("# keys\nr-key read\n\nw-key write\na-key   admin\n"))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, Config{Auth: keys})
	body := M{"streamId": "auth-1", "eventType": "A", "eventData": M{}}
	bearer := func(k string) []string { return []string{"Authorization", "Bearer " + k} }

	e.post("/api/events", body).fail(t, 401, codeUnauthorized)
	e.post("/api/events", body, bearer("nope")...).fail(t, 401, codeUnauthorized)
	e.post("/api/events", body, "Authorization", "Basic dzp3").fail(t, 401, codeUnauthorized)
	e.post("/api/events", body, bearer("r-key")...).fail(t, 403, codeForbidden)
	e.post("/api/events", body, bearer("w-key")...).ok(t, 201)
	e.post("/api/events", body, bearer("a-key")...).ok(t, 201)
	e.get("/api/events/auth-1").fail(t, 401, codeUnauthorized)
	e.get("/api/events/auth-1", bearer("r-key")...).ok(t, 200)
	e.post("/api/events/auth-1/replay", M{}, bearer("r-key")...).fail(t, 403, codeForbidden)
	e.post("/api/events/auth-1/replay", M{}, bearer("w-key")...).ok(t, 200)
	if r := e.get("/metrics"); r.status != 401 {
		t.Fatalf("/metrics without a key: %d", r.status)
	}
	if r := e.get("/health"); r.status != 200 {
		t.Fatalf("/health must stay open: %d", r.status)
	}
	// SSE routes take ?access_token=; other routes do not.
	e.get("/api/all?access_token=r-key").fail(t, 401, codeUnauthorized)
	e.get("/api/subscribe?access_token=bad").fail(t, 401, codeUnauthorized)
	c := e.subscribe(t, "/api/subscribe?fromPosition=0&access_token=r-key")
	if got := c.events(t, 2); len(got) != 2 {
		t.Fatal("subscription with access_token")
	}
	e.get("/api/streams/auth-1/subscribe?access_token=nope").fail(t, 401, codeUnauthorized)

	for _, bad := range []string{"k", "k role", "k read extra", ""} {
		if _, err := ParseKeys(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseKeys(%q): want an error", bad)
		}
	}
}

func TestOpenAPICoversRoutes(t *testing.T) {
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	inDoc := map[string]bool{}
	for p, ops := range doc.Paths {
		for m := range ops {
			inDoc[strings.ToUpper(m)+" "+p] = true
		}
	}
	s := &Server{}
	routed := map[string]bool{}
	for _, r := range s.withHEAD(s.routes()) {
		if strings.HasPrefix(r.path, "/ui") {
			continue // the web console: pages, not API
		}
		p := r.path
		parts := strings.Split(p, "/")
		for i, x := range parts {
			if strings.HasPrefix(x, ":") {
				parts[i] = "{" + x[1:] + "}"
			}
		}
		routed[r.method+" "+strings.Join(parts, "/")] = true
		routed["OPTIONS "+strings.Join(parts, "/")] = true // the router answers OPTIONS on every routed path
	}
	var missing, extra []string
	for k := range routed {
		if !inDoc[k] {
			missing = append(missing, k)
		}
	}
	for k := range inDoc {
		if !routed[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 || len(extra) > 0 {
		t.Fatalf("routes not in openapi.json: %v; openapi.json paths not routed: %v", missing, extra)
	}
	e := newEnv(t, Config{})
	if r := e.get("/api/openapi.json"); r.status != 200 || r.v["openapi"] == nil {
		t.Fatalf("GET /api/openapi.json: %d", r.status)
	}
}

func TestMetricsExposition(t *testing.T) {
	e := newEnv(t, Config{})
	// The engine reports to the Metrics it was given; here the server's own
	// Metrics stands in as the Observer to check the exposition end to end.
	e.srv.metrics.Batch(2, 3, 300, 0)
	e.add("m-1", "A", M{})
	r := e.get("/metrics", "Accept", "text/plain")
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
		t.Fatalf("/metrics: %d %s", r.status, r.header.Get("Content-Type"))
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(r.body)))
	if err != nil {
		t.Fatalf("exposition does not parse: %v", err)
	}
	for _, name := range []string{"eventd_appends_total", "eventd_events_written_total", "eventd_bytes_written_total",
		"eventd_fsyncs_total", "eventd_commit_batch_events", "eventd_http_append_seconds", "eventd_head_position",
		"eventd_subscribers", "eventd_segments", "eventd_fsync_policy_info"} {
		if fams[name] == nil {
			t.Errorf("metric %s missing", name)
		}
	}
	if h := fams["eventd_head_position"]; h != nil && h.Metric[0].GetGauge().GetValue() != 1 {
		t.Errorf("head gauge %v", h.Metric[0].GetGauge().GetValue())
	}
	if h := fams["eventd_http_append_seconds"]; h != nil && h.Metric[0].GetHistogram().GetSampleCount() != 1 {
		t.Errorf("append latency count %d", h.Metric[0].GetHistogram().GetSampleCount())
	}
}
