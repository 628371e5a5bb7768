package client

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// Snapshot sources.
const (
	SnapshotFromServer = "server" // computed by the daemon with the stream's reducer
	SnapshotFromClient = "client" // state supplied by a client
)

// Snapshot describes a stored snapshot of a stream's state.
type Snapshot struct {
	SnapshotID      string    `json:"snapshotId"`
	StreamID        string    `json:"streamId"`
	Version         uint64    `json:"version"`
	Reducer         string    `json:"reducer"`
	ReducerRevision string    `json:"reducerRevision"`
	Source          string    `json:"source"` // SnapshotFromServer or SnapshotFromClient
	CreatedAt       time.Time `json:"createdAt"`
	SizeBytes       int64     `json:"sizeBytes"` // stored (compressed) size
	// Data is the state; only SnapshotList.Latest carries it.
	Data json.RawMessage `json:"data,omitempty"`
}

// SnapshotList is the answer of ListSnapshots.
type SnapshotList struct {
	StreamID  string     `json:"streamId"`
	Snapshots []Snapshot `json:"snapshots"` // newest version first
	// Latest is the snapshot of the highest version, with its Data (nil:
	// none).
	Latest *Snapshot `json:"latest"`
}

// CreateSnapshot has the daemon compute and store the state of a stream at
// version (0: its current version) with the stream's reducer. A stream
// with no events is ErrNotFound; a version above the current one
// ErrBadRequest.
func (c *Client) CreateSnapshot(ctx context.Context, streamID string, version uint64) (*Snapshot, error) {
	return c.createSnapshot(ctx, streamID, version, nil)
}

// UploadSnapshot stores state (a JSON object) as the stream's state at
// version, which must exist (≥ 1). Replays and commands then start from it
// while the stream's reducer and upcasters are unchanged.
func (c *Client) UploadSnapshot(ctx context.Context, streamID string, version uint64, state any) (*Snapshot, error) {
	if state == nil {
		state = json.RawMessage("{}")
	}
	return c.createSnapshot(ctx, streamID, version, state)
}

func (c *Client) createSnapshot(ctx context.Context, streamID string, version uint64, data any) (*Snapshot, error) {
	body := struct {
		StreamID string `json:"streamId"`
		Version  uint64 `json:"version,omitempty"`
		Data     any    `json:"data,omitempty"`
	}{streamID, version, data}
	var out Snapshot
	if _, err := c.do(ctx, &request{method: http.MethodPost, path: "/api/snapshots", body: body}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListSnapshots lists a stream's snapshots (GET /api/snapshots/{streamId}).
// A stream with no events is ErrNotFound.
func (c *Client) ListSnapshots(ctx context.Context, streamID string) (*SnapshotList, error) {
	if err := checkSegment("ListSnapshots", "stream id", streamID); err != nil {
		return nil, err
	}
	var out SnapshotList
	if _, err := c.do(ctx, &request{method: http.MethodGet, path: "/api/snapshots/" + escape(streamID), idempotent: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
