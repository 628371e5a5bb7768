package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Setup of the CQRS modes: schemas, projections, and waiting for a
// projection to reach a position. These requests are outside the measured
// request paths (a catch-up is timed as a whole), so they use net/http and
// encoding/json plainly, like setup.go.

// typedEventType + the run id is the event type of --schema and
// --schema-fields runs.
const typedEventType = "BenchTyped-"

// setupDo sends one setup request and returns the status and body.
func (r *runner) setupDo(ctx context.Context, method, path string, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(r.cfg.URL, "/")+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := setupClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	return res.StatusCode, b, err
}

// registerSchema is --schema: PUT /api/schemas/{type} with typedSchema.
func (r *runner) registerSchema(ctx context.Context) error {
	body := []byte(`{"currentVersion":1,"jsonSchema":` + typedSchema + `}`)
	status, resp, err := r.setupDo(ctx, http.MethodPut, "/api/schemas/"+r.bodies.typ, body)
	if err != nil {
		return fmt.Errorf("bench: registering the schema of %s: %w", r.bodies.typ, err)
	}
	if status != http.StatusCreated && status != http.StatusOK {
		return fmt.Errorf("bench: registering the schema of %s: %d %s", r.bodies.typ, status, bytes.TrimSpace(resp))
	}
	return nil
}

// projectionDef is the body of POST /api/projections.
type projectionDef struct {
	ProjectionID string `json:"projectionId"`
	Name         string `json:"name"`
	Kind         string `json:"kind"`
	StreamPrefix string `json:"streamPrefix,omitempty"`
	KeyBy        string `json:"keyBy,omitempty"`
	StartFrom    string `json:"startFrom"`
}

// projectionInfo is what GET /api/projections/{id} says.
type projectionInfo struct {
	ID                    string  `json:"id"`
	Kind                  string  `json:"kind"`
	Status                string  `json:"status"`
	LastProcessedPosition uint64  `json:"lastProcessedPosition"`
	HeadPosition          uint64  `json:"headPosition"`
	Lag                   uint64  `json:"lag"`
	EventsProcessed       uint64  `json:"eventsProcessed"`
	Error                 *string `json:"error"`
	Keys                  uint64  `json:"keys"`
}

// projectionID is the id of the run's projection of that role.
func (r *runner) projectionID(role string) string {
	return "bench-" + r.cfg.RunID + "-" + role
}

// createProjection creates d (deleted again at the end of the run) and
// returns it as created: its headPosition is the head just after its
// creation was journaled.
func (r *runner) createProjection(ctx context.Context, d projectionDef) (projectionInfo, error) {
	body, err := json.Marshal(d)
	if err != nil {
		return projectionInfo{}, err
	}
	status, resp, err := r.setupDo(ctx, http.MethodPost, "/api/projections", body)
	if err != nil {
		return projectionInfo{}, fmt.Errorf("bench: creating projection %s: %w", d.ProjectionID, err)
	}
	if status != http.StatusCreated && status != http.StatusOK {
		return projectionInfo{}, fmt.Errorf("bench: creating projection %s: %d %s", d.ProjectionID, status, bytes.TrimSpace(resp))
	}
	r.projections = append(r.projections, d.ProjectionID)
	return decodeProjection(resp)
}

func decodeProjection(resp []byte) (projectionInfo, error) {
	var env struct {
		Data projectionInfo `json:"data"`
	}
	if err := json.Unmarshal(resp, &env); err != nil {
		return projectionInfo{}, fmt.Errorf("bench: projection answer: %w", err)
	}
	return env.Data, nil
}

// getProjection is GET /api/projections/{id}.
func (r *runner) getProjection(ctx context.Context, id string) (projectionInfo, error) {
	status, resp, err := r.setupDo(ctx, http.MethodGet, "/api/projections/"+id, nil)
	if err != nil {
		return projectionInfo{}, fmt.Errorf("bench: reading projection %s: %w", id, err)
	}
	if status != http.StatusOK {
		return projectionInfo{}, fmt.Errorf("bench: reading projection %s: %d %s", id, status, bytes.TrimSpace(resp))
	}
	return decodeProjection(resp)
}

// deleteProjections deletes the projections the run created, so that a
// daemon given with --url does not keep feeding them (best effort: a
// failure is only reported).
func (r *runner) deleteProjections() {
	for _, id := range r.projections {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		status, resp, err := r.setupDo(ctx, http.MethodDelete, "/api/projections/"+id, nil)
		cancel()
		if err == nil && status != http.StatusOK && status != http.StatusNotFound {
			err = fmt.Errorf("%d %s", status, bytes.TrimSpace(resp))
		}
		if err != nil {
			fmt.Fprintf(r.progress, "bench: deleting projection %s: %v\n", id, err)
		}
	}
	r.projections = nil
}

// waitProjection waits until projection id has processed position pos,
// for at most limit: reached is false when it has not by then (or ctx
// ended first). It waits in the server (GET /api/queries/{id}?limit=1&
// minPosition=pos&timeout=…, which answers the moment the projection gets
// there), a second at a time, and prints a progress line after each
// second. A projection in status error is an error.
func (r *runner) waitProjection(ctx context.Context, name, id string, pos uint64, limit time.Duration) (reached bool, err error) {
	start := time.Now()
	deadline := start.Add(limit)
	var lastPos uint64
	lastAt := start
	for ctx.Err() == nil {
		left := time.Until(deadline)
		if left <= 0 {
			return false, nil
		}
		wait := min(left, time.Second).Round(time.Millisecond)
		path := "/api/queries/" + id + "?limit=1&minPosition=" + strconv.FormatUint(pos, 10) + "&timeout=" + wait.String()
		status, resp, err := r.setupDo(ctx, http.MethodGet, path, nil)
		switch {
		case ctx.Err() != nil:
			return false, nil
		case err != nil:
			return false, fmt.Errorf("bench: waiting for projection %s: %w", id, err)
		case status == http.StatusOK:
			return true, nil
		case status != http.StatusServiceUnavailable:
			return false, fmt.Errorf("bench: waiting for projection %s: %d %s", id, status, bytes.TrimSpace(resp))
		}
		info, err := r.getProjection(ctx, id)
		if err != nil {
			if ctx.Err() != nil {
				return false, nil
			}
			return false, err
		}
		if info.Status == "error" {
			msg := ""
			if info.Error != nil {
				msg = *info.Error
			}
			return false, fmt.Errorf("bench: projection %s is in error at position %d: %s", id, info.LastProcessedPosition, msg)
		}
		now := time.Now()
		rate := float64(info.LastProcessedPosition-min(lastPos, info.LastProcessedPosition)) / now.Sub(lastAt).Seconds()
		if lastPos == 0 {
			rate = 0
		}
		fmt.Fprintf(r.progress, "bench: %-11s %10.0f positions/s  at %d of %d  %6.1fs elapsed\n",
			name, rate, info.LastProcessedPosition, pos, now.Sub(start).Seconds())
		lastPos, lastAt = info.LastProcessedPosition, now
	}
	return false, nil
}
