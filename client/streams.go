package client

import (
	"context"
	"encoding/json"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// StreamInfo is a stream's metadata.
type StreamInfo struct {
	StreamID       string    `json:"streamId"`
	CurrentVersion uint64    `json:"currentVersion"`
	CreatedAt      time.Time `json:"createdAt"`
	UpdatedAt      time.Time `json:"updatedAt"`
}

// Stream returns one stream's metadata (GET /api/streams/{streamId}). A
// stream with no events does not exist: ErrNotFound.
func (c *Client) Stream(ctx context.Context, streamID string) (*StreamInfo, error) {
	if err := checkSegment("Stream", "stream id", streamID); err != nil {
		return nil, err
	}
	var out StreamInfo
	if _, err := c.do(ctx, &request{method: http.MethodGet, path: "/api/streams/" + escape(streamID), idempotent: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListStreamsOptions selects a page of the stream list.
type ListStreamsOptions struct {
	Prefix string // only ids starting with it
	Limit  int    // 1–10000 (0: the daemon's default, 1000)
	Cursor string // NextCursor of the previous page ("": the first page)
}

// StreamList is one page of streams, in id order.
type StreamList struct {
	Streams []StreamInfo `json:"streams"`
	// NextCursor is set when more streams follow: Next reads them.
	NextCursor string `json:"nextCursor,omitempty"`

	c    *Client
	opts ListStreamsOptions
}

// HasNext reports whether more streams follow this page.
func (l *StreamList) HasNext() bool { return l.NextCursor != "" }

// Next reads the page after l, or returns ErrNoMorePages.
func (l *StreamList) Next(ctx context.Context) (*StreamList, error) {
	if !l.HasNext() || l.c == nil {
		return nil, ErrNoMorePages
	}
	o := l.opts
	o.Cursor = l.NextCursor
	return l.c.ListStreams(ctx, o)
}

// ListStreams reads one page of the streams (GET /api/streams).
func (c *Client) ListStreams(ctx context.Context, opts ListStreamsOptions) (*StreamList, error) {
	q := url.Values{}
	if opts.Prefix != "" {
		q.Set("prefix", opts.Prefix)
	}
	if opts.Limit != 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	if opts.Cursor != "" {
		q.Set("cursor", opts.Cursor)
	}
	l := &StreamList{c: c, opts: opts}
	if _, err := c.do(ctx, &request{method: http.MethodGet, path: "/api/streams", query: q, idempotent: true}, l); err != nil {
		return nil, err
	}
	return l, nil
}

// Streams iterates over every stream matching opts, following the cursors.
// After an error the iteration yields it and stops.
func (c *Client) Streams(ctx context.Context, opts ListStreamsOptions) iter.Seq2[StreamInfo, error] {
	return func(yield func(StreamInfo, error) bool) {
		l, err := c.ListStreams(ctx, opts)
		for {
			if err != nil {
				yield(StreamInfo{}, err)
				return
			}
			for _, s := range l.Streams {
				if !yield(s, nil) {
					return
				}
			}
			if !l.HasNext() {
				return
			}
			l, err = l.Next(ctx)
		}
	}
}

// ReplayOptions configures Replay. The zero value replays the whole stream
// from its newest usable snapshot with its reducer and lists its events.
type ReplayOptions struct {
	// FromVersion: Events lists the versions above it (default 0). The
	// final state is always the full state at ToVersion.
	FromVersion uint64
	// ToVersion is the version to rebuild (0: the current version).
	ToVersion uint64
	// SkipSnapshot folds from version 0 (useSnapshot: false).
	SkipSnapshot bool
	// Reducer names a registered reducer, or "default" (empty: the
	// reducer of the stream's category, else the default).
	Reducer string
	// SkipEvents leaves the events out of the answer (includeEvents: false).
	SkipEvents bool
}

// ReplayResult is a stream's state rebuilt by Replay.
type ReplayResult struct {
	StreamID    string          `json:"streamId"`
	FinalState  json.RawMessage `json:"finalState"`
	FromVersion uint64          `json:"fromVersion"`
	ToVersion   uint64          `json:"toVersion"`
	// SnapshotVersion is the version of the snapshot the fold started
	// from (nil: none, from version 0).
	SnapshotVersion *uint64 `json:"snapshotVersion"`
	// EventsApplied counts the events folded after the snapshot.
	EventsApplied int `json:"eventsApplied"`
	// Events lists FromVersion < version ≤ ToVersion (nil with SkipEvents).
	Events []Event `json:"events,omitempty"`
}

// DecodeState unmarshals FinalState into v.
func (r *ReplayResult) DecodeState(v any) error { return json.Unmarshal(r.FinalState, v) }

// Replay rebuilds a stream's state (POST /api/events/{streamId}/replay).
// It writes nothing, so it is retried like a read. An unknown stream is
// ErrNotFound; ToVersion above the current version is ErrBadRequest.
func (c *Client) Replay(ctx context.Context, streamID string, opts ReplayOptions) (*ReplayResult, error) {
	if err := checkSegment("Replay", "stream id", streamID); err != nil {
		return nil, err
	}
	body := struct {
		FromVersion   uint64  `json:"fromVersion,omitempty"`
		ToVersion     *uint64 `json:"toVersion,omitempty"`
		UseSnapshot   *bool   `json:"useSnapshot,omitempty"`
		Reducer       string  `json:"reducer,omitempty"`
		IncludeEvents *bool   `json:"includeEvents,omitempty"`
	}{FromVersion: opts.FromVersion, Reducer: opts.Reducer}
	if opts.ToVersion > 0 {
		body.ToVersion = &opts.ToVersion
	}
	f := false
	if opts.SkipSnapshot {
		body.UseSnapshot = &f
	}
	if opts.SkipEvents {
		body.IncludeEvents = &f
	}
	var out ReplayResult
	if _, err := c.do(ctx, &request{method: http.MethodPost, path: "/api/events/" + escape(streamID) + "/replay",
		body: body, idempotent: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
