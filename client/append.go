package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// NewEvent is an event to write with AppendBatch.
type NewEvent struct {
	EventType string
	// Data is the eventData, a JSON object: a struct, a map, or
	// json.RawMessage for bytes already encoded (sent compacted, as
	// encoding/json does, with member order and number spelling kept). nil
	// sends {}.
	Data any
	// Metadata is an optional JSON object (nil: none).
	Metadata any
	// EventID is an optional client id (1–128 bytes), unique per stream
	// within the daemon's dedupe window: a repeat of the same append is
	// answered with the first result and Duplicate set. Empty: the daemon
	// makes one (or the client, with WithAutoIDs).
	EventID string
	// SchemaVersion is the eventData's schema version (0: the default, 1).
	SchemaVersion int
}

// AppendResult is the answer to Append.
type AppendResult struct {
	EventID   string    `json:"eventId"`
	StreamID  string    `json:"streamId"`
	Version   uint64    `json:"version"`
	EventType string    `json:"eventType"`
	Timestamp time.Time `json:"timestamp"`
	Position  uint64    `json:"position"`
	// Duplicate is true when the event id had already been written by an
	// earlier, identical append (a retry): nothing was written and this is
	// that earlier append's result.
	Duplicate bool `json:"duplicate,omitempty"`
}

// BatchResult is the answer to AppendBatch.
type BatchResult struct {
	StreamID      string       `json:"streamId"`
	FirstVersion  uint64       `json:"firstVersion"`
	LastVersion   uint64       `json:"lastVersion"`
	FirstPosition uint64       `json:"firstPosition"`
	LastPosition  uint64       `json:"lastPosition"`
	Timestamp     time.Time    `json:"timestamp"`
	Events        []BatchEvent `json:"events"`
	// Duplicate: see AppendResult.Duplicate.
	Duplicate bool `json:"duplicate,omitempty"`
}

// BatchEvent is one written event of a batch.
type BatchEvent struct {
	EventID  string `json:"eventId"`
	Version  uint64 `json:"version"`
	Position uint64 `json:"position"`
}

// AppendOption configures Append.
type AppendOption interface{ applyAppend(*appendConfig) }

// BatchOption configures AppendBatch.
type BatchOption interface{ applyBatch(*appendConfig) }

// WriteOption configures both Append and AppendBatch.
type WriteOption interface {
	AppendOption
	BatchOption
}

type appendConfig struct {
	expected ExpectedVersion
	ev       NewEvent
}

type appendFunc func(*appendConfig)

func (f appendFunc) applyAppend(c *appendConfig) { f(c) }

type writeFunc func(*appendConfig)

func (f writeFunc) applyAppend(c *appendConfig) { f(c) }
func (f writeFunc) applyBatch(c *appendConfig)  { f(c) }

// WithExpectedVersion makes the append conditional on the stream's version
// (default Any: no check).
func WithExpectedVersion(v ExpectedVersion) WriteOption {
	return writeFunc(func(c *appendConfig) { c.expected = v })
}

// WithEventID gives the event a client id, which makes the append
// idempotent (and so retried by the client on transient failures).
func WithEventID(id string) AppendOption {
	return appendFunc(func(c *appendConfig) { c.ev.EventID = id })
}

// WithMetadata sets the event's metadata (a JSON object).
func WithMetadata(m any) AppendOption {
	return appendFunc(func(c *appendConfig) { c.ev.Metadata = m })
}

// WithSchemaVersion sets the event's schemaVersion (default 1).
func WithSchemaVersion(n int) AppendOption {
	return appendFunc(func(c *appendConfig) { c.ev.SchemaVersion = n })
}

// wireEvent is an event in a request body.
type wireEvent struct {
	StreamID        string           `json:"streamId,omitempty"`
	EventType       string           `json:"eventType"`
	EventData       any              `json:"eventData"`
	Metadata        any              `json:"metadata,omitempty"`
	EventID         string           `json:"eventId,omitempty"`
	ExpectedVersion *ExpectedVersion `json:"expectedVersion,omitempty"`
	SchemaVersion   int              `json:"schemaVersion,omitempty"`
}

func (c *Client) wire(ev NewEvent) wireEvent {
	w := wireEvent{EventType: ev.EventType, EventData: ev.Data, Metadata: ev.Metadata,
		EventID: ev.EventID, SchemaVersion: ev.SchemaVersion}
	if w.EventData == nil {
		w.EventData = json.RawMessage("{}")
	}
	if w.EventID == "" && c.autoIDs {
		w.EventID = NewID()
	}
	return w
}

// Append writes one event (POST /api/events). data is the eventData: a
// JSON object, as a struct, a map or json.RawMessage.
//
// The append is retried on transient failures only if it carries an event
// id (WithEventID, or WithAutoIDs on the client); a retry the daemon had
// already written answers the first result with Duplicate set.
func (c *Client) Append(ctx context.Context, streamID, eventType string, data any, opts ...AppendOption) (*AppendResult, error) {
	cfg := appendConfig{ev: NewEvent{EventType: eventType, Data: data}}
	for _, o := range opts {
		if o != nil {
			o.applyAppend(&cfg)
		}
	}
	w := c.wire(cfg.ev)
	w.StreamID = streamID
	w.ExpectedVersion = expectedPtr(cfg.expected)
	if streamID == "" {
		return nil, errors.New("eventd client: Append: empty stream id")
	}
	var out AppendResult
	_, err := c.do(ctx, &request{method: http.MethodPost, path: "/api/events", body: w,
		idempotent: w.EventID != ""}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// AppendBatch writes events to one stream atomically (POST
// /api/streams/{streamId}/events): all of them, with consecutive versions
// and positions, or none. It is retried on transient failures only if
// every event carries an EventID (or the client has WithAutoIDs).
func (c *Client) AppendBatch(ctx context.Context, streamID string, events []NewEvent, opts ...BatchOption) (*BatchResult, error) {
	var cfg appendConfig
	for _, o := range opts {
		if o != nil {
			o.applyBatch(&cfg)
		}
	}
	if err := checkSegment("AppendBatch", "stream id", streamID); err != nil {
		return nil, err
	}
	if len(events) == 0 {
		return nil, errors.New("eventd client: AppendBatch: no events")
	}
	body := struct {
		ExpectedVersion *ExpectedVersion `json:"expectedVersion,omitempty"`
		Events          []wireEvent      `json:"events"`
	}{ExpectedVersion: expectedPtr(cfg.expected), Events: make([]wireEvent, len(events))}
	allIDs := true
	for i, ev := range events {
		body.Events[i] = c.wire(ev)
		allIDs = allIDs && body.Events[i].EventID != ""
	}
	var out BatchResult
	_, err := c.do(ctx, &request{method: http.MethodPost, path: "/api/streams/" + escape(streamID) + "/events",
		body: body, idempotent: allIDs}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// checkSegment refuses an empty id that would go into a URL path.
func checkSegment(method, what, id string) error {
	if id == "" {
		return fmt.Errorf("eventd client: %s: empty %s", method, what)
	}
	return nil
}
