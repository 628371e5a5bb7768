package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"
)

// Health statuses.
const (
	HealthHealthy   = "healthy"
	HealthDegraded  = "degraded"
	HealthUnhealthy = "unhealthy"
)

// Health is the daemon's GET /health answer.
type Health struct {
	Status        string    `json:"status"` // HealthHealthy, HealthDegraded or HealthUnhealthy
	Timestamp     time.Time `json:"timestamp"`
	TotalEvents   uint64    `json:"totalEvents"`
	TotalStreams  uint64    `json:"totalStreams"`
	TotalCommands uint64    `json:"totalCommands"`
	HeadPosition  uint64    `json:"headPosition"`
	UptimeSeconds float64   `json:"uptimeSeconds"`
	Fsync         string    `json:"fsync"` // "always", "interval:10ms", "never"
	DataDirBytes  int64     `json:"dataDirBytes"`
	Problems      []string  `json:"problems"`
}

// Health reads GET /health (no API key needed). A degraded or unhealthy
// daemon answers 503: Health then returns both the decoded Health and an
// *APIError (ErrUnavailable) whose message lists the problems. A 503 is
// not retried here: it is the answer.
func (c *Client) Health(ctx context.Context) (*Health, error) {
	var h Health
	_, err := c.do(ctx, &request{method: http.MethodGet, path: "/health", idempotent: true, no503Retry: true, raw: true}, &h)
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusServiceUnavailable && h.Status != "" {
		ae.Message = "daemon " + h.Status
		if len(h.Problems) > 0 {
			ae.Message += ": " + strings.Join(h.Problems, "; ")
		}
		return &h, ae
	}
	if err != nil {
		return nil, err
	}
	return &h, nil
}

// Metrics reads GET /metrics: the daemon's Prometheus text exposition.
func (c *Client) Metrics(ctx context.Context) ([]byte, error) {
	var b []byte
	if _, err := c.do(ctx, &request{method: http.MethodGet, path: "/metrics", idempotent: true, raw: true}, &b); err != nil {
		return nil, err
	}
	return b, nil
}

// OpenAPI reads GET /api/openapi.json: the OpenAPI 3 description of the
// daemon's routes.
func (c *Client) OpenAPI(ctx context.Context) (json.RawMessage, error) {
	var doc json.RawMessage
	if _, err := c.do(ctx, &request{method: http.MethodGet, path: "/api/openapi.json", idempotent: true, raw: true}, &doc); err != nil {
		return nil, err
	}
	return doc, nil
}
