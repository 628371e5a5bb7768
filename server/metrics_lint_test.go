package server

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// TestMetricsLint runs promlint (the checks of promtool check metrics) over
// the live /metrics of a server that has served requests and has a
// projection: any problem fails (this is the CI check).
func TestMetricsLint(t *testing.T) {
	e, _ := newProjectionEnv(t, Config{})
	e.add("lint-1", "A", M{})
	e.post("/api/projections", M{"projectionId": "cnt", "name": "c", "kind": "count"}).ok(t, 201)
	e.get("/api/events/lint-1")
	e.get("/api/events/nope-77")
	e.do("HEAD", "/api/streams", nil)
	e.get("/no/such/route")
	sub := e.subscribe(t, "/api/subscribe")
	sub.cancel()

	body := e.get("/metrics").body
	problems, err := promlint.New(strings.NewReader(string(body))).Lint()
	if err != nil {
		t.Fatalf("promlint: %v", err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

// TestRequestMetrics: requests are counted, and timed, by method, route
// pattern (never the path) and status; the fsync policy is an _info metric;
// each projection has its lag and processed counter.
func TestRequestMetrics(t *testing.T) {
	e, _ := newProjectionEnv(t, Config{})
	e.add("rm-secret-1", "A", M{})
	e.post("/api/projections", M{"projectionId": "cnt", "name": "c", "kind": "count", "startFrom": "beginning"}).ok(t, 201)
	e.get("/api/events/rm-secret-1").ok(t, 200)
	e.get("/api/events/rm-secret-1").ok(t, 200)
	e.get("/api/streams/rm-secret-2").fail(t, 404, codeNotFound)
	e.do("HEAD", "/api/events/rm-secret-1", nil)
	e.get("/no/such/route")

	var fams map[string]*dto.MetricFamily
	deadline := time.Now().Add(10 * time.Second)
	for {
		body := e.get("/metrics").body
		if strings.Contains(string(body), "rm-secret") {
			t.Fatalf("/metrics holds a stream id (a raw path in a label):\n%s", body)
		}
		var err error
		p := expfmt.NewTextParser(model.UTF8Validation)
		fams, err = p.TextToMetricFamilies(strings.NewReader(string(body)))
		if err != nil {
			t.Fatal(err)
		}
		if v := seriesValue(fams["eventd_projection_events_processed_total"], map[string]string{"projection": "cnt"}); v >= 1 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, c := range []struct {
		labels map[string]string
		want   float64
	}{
		{map[string]string{"method": "GET", "route": "/api/events/:streamId", "status": "200"}, 2},
		{map[string]string{"method": "HEAD", "route": "/api/events/:streamId", "status": "200"}, 1},
		{map[string]string{"method": "GET", "route": "/api/streams/:streamId", "status": "404"}, 1},
		{map[string]string{"method": "POST", "route": "/api/events", "status": "201"}, 1},
		{map[string]string{"method": "GET", "route": routeUnmatched, "status": "404"}, 1},
	} {
		if got := seriesValue(fams["eventd_http_requests_total"], c.labels); got != c.want {
			t.Errorf("eventd_http_requests_total%v = %v, want %v", c.labels, got, c.want)
		}
		if got := seriesValue(fams["eventd_http_request_duration_seconds"], c.labels); got != c.want {
			t.Errorf("eventd_http_request_duration_seconds%v count = %v, want %v", c.labels, got, c.want)
		}
	}
	if v := seriesValue(fams["eventd_fsync_policy_info"], map[string]string{"policy": "never"}); v != 1 {
		t.Errorf("eventd_fsync_policy_info{policy=never} = %v", v)
	}
	if fams["eventd_fsync_policy"] != nil {
		t.Error("the old eventd_fsync_policy is still exported")
	}
	if v := seriesValue(fams["eventd_projection_events_processed_total"], map[string]string{"projection": "cnt"}); v != 1 {
		t.Errorf("eventd_projection_events_processed_total{projection=cnt} = %v", v)
	}
	if fams["eventd_projection_lag"] == nil {
		t.Error("eventd_projection_lag missing")
	}
}

// seriesValue is the value (a histogram's count) of the series of f with
// the labels given (others ignored); -1 when there is none.
func seriesValue(f *dto.MetricFamily, labels map[string]string) float64 {
	if f == nil {
		return -1
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range labels {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}

// TestSubscriptionRequestLatency: only a subscription that opened is left
// out of the latency histogram; HEAD and refusals on the subscription
// routes are observed like any request.
func TestSubscriptionRequestLatency(t *testing.T) {
	keys, err := ParseKeys(strings.NewReader("r-key read\n"))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, Config{Auth: keys})
	auth := []string{"Authorization", "Bearer r-key"}
	e.do("HEAD", "/api/subscribe", nil, auth...)
	e.do("HEAD", "/api/streams/s-1/subscribe", nil, auth...)
	e.get("/api/subscribe?messages=bogus", auth...).fail(t, 400, codeBadRequest)
	e.get("/api/streams/s-1/subscribe?messages=bogus", auth...).fail(t, 400, codeBadRequest)
	e.get("/api/subscribe").fail(t, 401, codeUnauthorized)

	// A subscription that opens, then ends.
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", e.ts.URL+"/api/subscribe", nil)
	req.Header.Set("Authorization", "Bearer r-key")
	res, err := e.hc.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("subscribe: %v %v", res, err)
	}
	_, _ = res.Body.Read(make([]byte, 64))
	cancel()
	res.Body.Close()

	fams := func() map[string]*dto.MetricFamily {
		p := expfmt.NewTextParser(model.UTF8Validation)
		f, err := p.TextToMetricFamilies(strings.NewReader(string(e.get("/metrics", auth...).body)))
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	var f map[string]*dto.MetricFamily
	eventually(t, 5*time.Second, "the subscription counted", func() bool {
		f = fams()
		return seriesValue(f["eventd_http_requests_total"], map[string]string{"method": "GET", "route": "/api/subscribe", "status": "200"}) == 1
	})
	for _, c := range []struct {
		method, route, status string
		want                  float64
	}{
		{"HEAD", "/api/subscribe", "200", 1},
		{"HEAD", "/api/streams/:streamId/subscribe", "200", 1},
		{"GET", "/api/subscribe", "400", 1},
		{"GET", "/api/streams/:streamId/subscribe", "400", 1},
		{"GET", "/api/subscribe", "401", 1},
		{"GET", "/api/subscribe", "200", 0}, // the subscription: no latency
	} {
		l := map[string]string{"method": c.method, "route": c.route, "status": c.status}
		got := seriesValue(f["eventd_http_request_duration_seconds"], l)
		if got == -1 && c.want == 0 { // no series: none observed either
			got = 0
		}
		if got != c.want {
			t.Errorf("eventd_http_request_duration_seconds%v count = %v, want %v", l, got, c.want)
		}
	}
}
