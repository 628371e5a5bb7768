package server

import (
	"net/http"
	"sync"
	"time"

	"github.com/julienschmidt/httprouter"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/eventd/eventd/engine"
)

// Metrics is eventd's Prometheus registry. It is the engine's Observer (pass
// it in engine.Options.Observer) and reads the store's Stats at scrape time.
type Metrics struct {
	reg *prometheus.Registry

	appends       prometheus.Counter
	events        prometheus.Counter
	bytes         prometheus.Counter
	fsyncs        prometheus.Counter
	batches       prometheus.Counter
	batchEvents   prometheus.Histogram
	batchAppends  prometheus.Histogram
	fsyncSeconds  prometheus.Histogram
	appendSeconds prometheus.Histogram

	// Hardening: SSE memory and drops, connections (sse.go, connlimit.go).
	subsDropped    *prometheus.CounterVec
	sseHeldBytes   prometheus.Gauge
	sseLimitBytes  prometheus.Gauge
	sseBudgetWaits prometheus.Counter
	conns          prometheus.Gauge
	connsMax       prometheus.Gauge
	connsRefused   *prometheus.CounterVec
	connsReclaimed prometheus.Counter

	// Requests by route and status (httpmetrics.go).
	http httpMetrics

	mu    sync.Mutex
	store Store
}

var _ engine.Observer = (*Metrics)(nil)

// NewMetrics creates the metrics and their registry.
func NewMetrics() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), http: newHTTPMetrics()}
	m.appends = prometheus.NewCounter(prometheus.CounterOpts{Name: "eventd_appends_total", Help: "Append calls written (a batch append counts once)."})
	m.events = prometheus.NewCounter(prometheus.CounterOpts{Name: "eventd_events_written_total", Help: "Events written."})
	m.bytes = prometheus.NewCounter(prometheus.CounterOpts{Name: "eventd_bytes_written_total", Help: "Bytes written to the log."})
	m.fsyncs = prometheus.NewCounter(prometheus.CounterOpts{Name: "eventd_fsyncs_total", Help: "Fsyncs of the log run by the writer."})
	m.batches = prometheus.NewCounter(prometheus.CounterOpts{Name: "eventd_commit_batches_total", Help: "Group-commit batches written."})
	m.batchEvents = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "eventd_commit_batch_events", Help: "Events per group-commit batch.",
		Buckets: prometheus.ExponentialBuckets(1, 4, 8), // 1 … 16384
	})
	m.batchAppends = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "eventd_commit_batch_appends", Help: "Append calls per group-commit batch.",
		Buckets: prometheus.ExponentialBuckets(1, 2, 10), // 1 … 512
	})
	m.fsyncSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "eventd_fsync_seconds", Help: "Duration of the log fsyncs.",
		Buckets: prometheus.ExponentialBuckets(50e-6, 2, 14), // 50µs … 0.4s
	})
	m.appendSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "eventd_http_append_seconds", Help: "Latency of successful HTTP appends (single and batch), from request to answer.",
		Buckets: prometheus.ExponentialBuckets(100e-6, 2, 14), // 100µs … 0.8s
	})
	m.subsDropped = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "eventd_subscribers_dropped_total", Help: "SSE subscriptions the server ended: reason write_timeout (the client stopped reading for --sse-write-timeout) or error (the store closed or a read failed).",
	}, []string{"reason"})
	for _, r := range []string{dropWriteTimeout, dropError} {
		m.subsDropped.WithLabelValues(r)
	}
	m.sseHeldBytes = prometheus.NewGauge(prometheus.GaugeOpts{Name: "eventd_sse_memory_bytes", Help: "Bytes of events SSE subscribers hold now (read, not yet written), against --sse-memory."})
	m.sseLimitBytes = prometheus.NewGauge(prometheus.GaugeOpts{Name: "eventd_sse_memory_limit_bytes", Help: "The --sse-memory budget."})
	m.sseBudgetWaits = prometheus.NewCounter(prometheus.CounterOpts{Name: "eventd_sse_memory_waits_total", Help: "Times an SSE subscriber waited because --sse-memory was spent."})
	m.conns = prometheus.NewGauge(prometheus.GaugeOpts{Name: "eventd_connections", Help: "Open client connections counted against --max-connections."})
	m.connsMax = prometheus.NewGauge(prometheus.GaugeOpts{Name: "eventd_connections_max", Help: "The --max-connections cap (0: none)."})
	m.connsRefused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "eventd_connections_refused_total", Help: "Connections over --max-connections: how=busy (answered 503, or /health), how=closed (closed at once, the spare slots being taken too).",
	}, []string{"how"})
	for _, h := range []string{"busy", "closed"} {
		m.connsRefused.WithLabelValues(h)
	}
	m.connsReclaimed = prometheus.NewCounter(prometheus.CounterOpts{Name: "eventd_connections_idle_closed_total", Help: "Idle keep-alive connections closed to make room under --max-connections."})
	m.reg.MustRegister(m.appends, m.events, m.bytes, m.fsyncs, m.batches,
		m.batchEvents, m.batchAppends, m.fsyncSeconds, m.appendSeconds,
		m.subsDropped, m.sseHeldBytes, m.sseLimitBytes, m.sseBudgetWaits,
		m.conns, m.connsMax, m.connsRefused, m.connsReclaimed,
		statsCollector{m}, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.reg.MustRegister(m.http.collectors()...)
	return m
}

// Registry is where further metrics may be registered.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Batch implements engine.Observer: called by the writer once per batch.
func (m *Metrics) Batch(appends, events, bytes int, fsync time.Duration) {
	m.batches.Inc()
	m.appends.Add(float64(appends))
	m.events.Add(float64(events))
	m.bytes.Add(float64(bytes))
	m.batchEvents.Observe(float64(events))
	m.batchAppends.Observe(float64(appends))
	if fsync > 0 {
		m.fsyncs.Inc()
		m.fsyncSeconds.Observe(fsync.Seconds())
	}
}

func (m *Metrics) observeAppend(d time.Duration) { m.appendSeconds.Observe(d.Seconds()) }

func (m *Metrics) bind(s Store) {
	m.mu.Lock()
	m.store = s
	m.mu.Unlock()
}

func (m *Metrics) boundStore() Store {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.store
}

// statsCollector turns one Stats() call per scrape into gauges.
type statsCollector struct{ m *Metrics }

var (
	descHead        = prometheus.NewDesc("eventd_head_position", "Visible (durable) head position: the number of events.", nil, nil)
	descStreams     = prometheus.NewDesc("eventd_streams", "Streams in the store.", nil, nil)
	descSegments    = prometheus.NewDesc("eventd_segments", "Segment files of the log.", nil, nil)
	descDataBytes   = prometheus.NewDesc("eventd_log_bytes", "Bytes of log on disk.", nil, nil)
	descIndexBytes  = prometheus.NewDesc("eventd_index_memory_bytes", "Estimated RAM used by the index.", nil, nil)
	descSubscribers = prometheus.NewDesc("eventd_subscribers", "Open subscriptions (SSE and internal).", nil, nil)
	descFsyncPolicy = prometheus.NewDesc("eventd_fsync_policy_info", "The fsync policy in force (--fsync), as the label policy; value 1.", []string{"policy"}, nil)
	descHealthy     = prometheus.NewDesc("eventd_healthy", "1 when /health is healthy: no sticky storage failure, no corruption found, the derived-data store writable.", nil, nil)
)

func (c statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descHead, descStreams, descSegments, descDataBytes, descIndexBytes, descSubscribers, descFsyncPolicy, descHealthy} {
		ch <- d
	}
}

func (c statsCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.m.boundStore()
	if s == nil {
		return
	}
	st := s.Stats()
	g := prometheus.GaugeValue
	ch <- prometheus.MustNewConstMetric(descHead, g, float64(st.Head))
	ch <- prometheus.MustNewConstMetric(descStreams, g, float64(st.Streams))
	ch <- prometheus.MustNewConstMetric(descSegments, g, float64(st.Segments))
	ch <- prometheus.MustNewConstMetric(descDataBytes, g, float64(st.DataBytes))
	ch <- prometheus.MustNewConstMetric(descIndexBytes, g, float64(st.IndexBytes))
	ch <- prometheus.MustNewConstMetric(descSubscribers, g, float64(st.Subscribers))
	ch <- prometheus.MustNewConstMetric(descFsyncPolicy, g, 1, s.Policy())
	healthy := 1.0
	if s.Err() != nil || len(s.Problems()) > 0 {
		healthy = 0
	}
	ch <- prometheus.MustNewConstMetric(descHealthy, g, healthy)
}

func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	s.metricsH.ServeHTTP(w, r)
}
