package server

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Request metrics: every answer the Server gives (reads, writes, refusals,
// unknown routes) is counted in eventd_http_requests_total by method, route
// pattern ("/api/events/:streamId", never the path: paths hold stream ids)
// and status; its latency, from the request to the handler's return, goes
// to eventd_http_request_duration_seconds with the same labels. A request
// that matched no route is route="unmatched" (404, 405, OPTIONS). An SSE
// subscription is counted when it ends but is left out of the histogram:
// its duration is how long the client stayed, not a latency.

// routeUnmatched labels requests no route matched.
const routeUnmatched = "unmatched"

type httpMetrics struct {
	requests *prometheus.CounterVec
	seconds  *prometheus.HistogramVec
	// series caches each label set's counter and histogram (the vectors'
	// lookups hash the labels on every call).
	series *sync.Map // seriesKey → *requestSeries
}

type seriesKey struct {
	method, route string
	status        int
}

type requestSeries struct {
	requests prometheus.Counter
	seconds  prometheus.Observer
}

func newHTTPMetrics() httpMetrics {
	labels := []string{"method", "route", "status"}
	return httpMetrics{
		series: &sync.Map{},
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eventd_http_requests_total",
			Help: "HTTP requests answered, by method, route pattern and status (SSE subscriptions when they end).",
		}, labels),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "eventd_http_request_duration_seconds",
			Help:    "Latency of HTTP requests, from request to the end of the answer, by method, route pattern and status (SSE subscriptions left out).",
			Buckets: prometheus.ExponentialBuckets(100e-6, 4, 10), // 100µs … 26s
		}, labels),
	}
}

func (m httpMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.requests, m.seconds}
}

// observeRequest records one finished request.
func (m *Metrics) observeRequest(r *http.Request, a *accessWriter, start time.Time) {
	route := a.route
	if route == "" {
		route = routeUnmatched
	}
	status := a.status
	if status == 0 {
		status = http.StatusOK
	}
	method := r.Method
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions:
	default:
		method = "other" // a client's made-up method is not a label value
	}
	k := seriesKey{method, route, status}
	v, ok := m.http.series.Load(k)
	if !ok {
		code := strconv.Itoa(status)
		v, _ = m.http.series.LoadOrStore(k, &requestSeries{
			requests: m.http.requests.WithLabelValues(method, route, code),
			seconds:  m.http.seconds.WithLabelValues(method, route, code),
		})
	}
	rs := v.(*requestSeries)
	rs.requests.Inc()
	if !a.sse {
		rs.seconds.Observe(time.Since(start).Seconds())
	}
}
