package client

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// Projection kinds.
const (
	ProjectionCount  = "count"  // counts events: state {"total", "byType"}
	ProjectionState  = "state"  // a reducer's state per stream (or per KeyBy value)
	ProjectionSystem = "system" // $by-event-type, $by-category, $stream-stats
)

// Projection statuses.
const (
	ProjectionActive     = "active"
	ProjectionPaused     = "paused"
	ProjectionError      = "error"
	ProjectionRebuilding = "rebuilding"
)

// ProjectionDefinition creates a projection (POST /api/projections).
type ProjectionDefinition struct {
	// ID is the projection id (stream-id syntax). With an ID, creating is
	// idempotent (the same definition again answers the existing
	// projection) and retried like a read; without one the daemon makes
	// one and each call creates a projection.
	ID           string   `json:"projectionId,omitempty"`
	Name         string   `json:"name"`
	Kind         string   `json:"kind"` // ProjectionCount or ProjectionState
	EventTypes   []string `json:"eventTypes,omitempty"`
	StreamPrefix string   `json:"streamPrefix,omitempty"`
	KeyBy        string   `json:"keyBy,omitempty"`     // state only: "eventData.<field>"
	Reducer      string   `json:"reducer,omitempty"`   // state only: a registered reducer
	StartFrom    string   `json:"startFrom,omitempty"` // "beginning" (default) or "now"
}

// Projection is a projection's definition and progress. GetProjection
// also fills State (count projections) or Keys (keyed ones).
type Projection struct {
	ID                    string    `json:"id"`
	Name                  string    `json:"name"`
	Kind                  string    `json:"kind"`
	EventTypes            []string  `json:"eventTypes"`
	StreamPrefix          string    `json:"streamPrefix"`
	KeyBy                 string    `json:"keyBy"`
	Reducer               string    `json:"reducer"`
	StartFrom             string    `json:"startFrom"`
	Status                string    `json:"status"`
	LastProcessedPosition uint64    `json:"lastProcessedPosition"`
	HeadPosition          uint64    `json:"headPosition"`
	Lag                   uint64    `json:"lag"`
	EventsProcessed       uint64    `json:"eventsProcessed"`
	Error                 string    `json:"error"`
	CreatedAt             time.Time `json:"createdAt"`
	UpdatedAt             time.Time `json:"updatedAt"`

	// State is a count projection's {"total": N, "byType": {...}}.
	State json.RawMessage `json:"state,omitempty"`
	// Keys is the number of entries of a keyed read model.
	Keys *uint64 `json:"keys,omitempty"`
}

// CreateProjection creates a projection; it is answered with the existing
// one if def.ID exists with the same definition, and 409 (ErrBadRequest
// code) if with another.
func (c *Client) CreateProjection(ctx context.Context, def ProjectionDefinition) (*Projection, error) {
	var out Projection
	if _, err := c.do(ctx, &request{method: http.MethodPost, path: "/api/projections", body: def,
		idempotent: def.ID != ""}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListProjections lists every projection, system ones first, in id order.
func (c *Client) ListProjections(ctx context.Context) ([]Projection, error) {
	var out struct {
		Projections []Projection `json:"projections"`
	}
	if _, err := c.do(ctx, &request{method: http.MethodGet, path: "/api/projections", idempotent: true}, &out); err != nil {
		return nil, err
	}
	return out.Projections, nil
}

// GetProjection reads one projection with its State or Keys.
func (c *Client) GetProjection(ctx context.Context, id string) (*Projection, error) {
	if err := checkSegment("GetProjection", "projection id", id); err != nil {
		return nil, err
	}
	var out Projection
	if _, err := c.do(ctx, &request{method: http.MethodGet, path: "/api/projections/" + escape(id), idempotent: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// PauseProjection pauses a projection (a paused one stays paused).
func (c *Client) PauseProjection(ctx context.Context, id string) (*Projection, error) {
	return c.projectionAction(ctx, id, "pause", true)
}

// ResumeProjection resumes a paused projection.
func (c *Client) ResumeProjection(ctx context.Context, id string) (*Projection, error) {
	return c.projectionAction(ctx, id, "resume", true)
}

// ResetProjection wipes a projection's read model and rebuilds it from its
// start, clearing an error. It is not retried (a repeat would rebuild again).
func (c *Client) ResetProjection(ctx context.Context, id string) (*Projection, error) {
	return c.projectionAction(ctx, id, "reset", false)
}

func (c *Client) projectionAction(ctx context.Context, id, action string, idempotent bool) (*Projection, error) {
	if err := checkSegment("Projection "+action, "projection id", id); err != nil {
		return nil, err
	}
	var out Projection
	if _, err := c.do(ctx, &request{method: http.MethodPost, path: "/api/projections/" + escape(id) + "/" + action,
		idempotent: idempotent}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteProjection deletes a projection and its read model. System
// projections cannot be deleted (ErrBadRequest).
func (c *Client) DeleteProjection(ctx context.Context, id string) error {
	if err := checkSegment("DeleteProjection", "projection id", id); err != nil {
		return err
	}
	_, err := c.do(ctx, &request{method: http.MethodDelete, path: "/api/projections/" + escape(id)}, nil)
	return err
}
