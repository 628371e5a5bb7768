package server

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/eventd/eventd/engine/projection"
)

// projectionCollector reads every projection once per scrape.
type projectionCollector struct{ m *projection.Manager }

var (
	descProjLag       = prometheus.NewDesc("eventd_projection_lag", "Head position minus the projection's last processed position.", []string{"projection"}, nil)
	descProjProcessed = prometheus.NewDesc("eventd_projection_events_processed_total", "Events the projection applied (matching its filter) since it was created or reset.", []string{"projection"}, nil)
	descProjPosition  = prometheus.NewDesc("eventd_projection_last_processed_position", "Last position the projection processed.", []string{"projection"}, nil)
	descProjKeys      = prometheus.NewDesc("eventd_projection_keys", "Entries of the projection's read model.", []string{"projection"}, nil)
	descProjStatus    = prometheus.NewDesc("eventd_projection_status", "The projection's status (value 1).", []string{"projection", "status"}, nil)
)

func (c projectionCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descProjLag, descProjProcessed, descProjPosition, descProjKeys, descProjStatus} {
		ch <- d
	}
}

func (c projectionCollector) Collect(ch chan<- prometheus.Metric) {
	list, err := c.m.List()
	if err != nil {
		return // closing: no projection metrics
	}
	g := prometheus.GaugeValue
	for _, p := range list {
		ch <- prometheus.MustNewConstMetric(descProjLag, g, float64(p.Lag), p.ID)
		ch <- prometheus.MustNewConstMetric(descProjProcessed, prometheus.CounterValue, float64(p.EventsProcessed), p.ID)
		ch <- prometheus.MustNewConstMetric(descProjPosition, g, float64(p.LastProcessed), p.ID)
		ch <- prometheus.MustNewConstMetric(descProjKeys, g, float64(p.Keys), p.ID)
		ch <- prometheus.MustNewConstMetric(descProjStatus, g, 1, p.ID, string(p.Status))
	}
}

// registerProjectionMetrics adds the projections' collector to the
// server's registry (once: a registry shared by two servers keeps the
// first).
func (s *Server) registerProjectionMetrics() {
	err := s.metrics.reg.Register(projectionCollector{s.cfg.Projections})
	var already prometheus.AlreadyRegisteredError
	if err != nil && !errors.As(err, &already) {
		s.log.Warn("cannot register the projection metrics", "err", err)
	}
}
