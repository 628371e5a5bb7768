package client

import (
	"context"
	"encoding/json"
	"net/http"
)

// SchemaDefinition registers an event type's schema (PUT
// /api/schemas/{eventType}): its current version, the upcaster chain from
// version 1 to it (one step per version), and optionally a JSON Schema
// that appends at CurrentVersion must satisfy.
type SchemaDefinition struct {
	CurrentVersion int        `json:"currentVersion"`
	Upcasters      []Upcaster `json:"upcasters,omitempty"`
	// JSONSchema is a JSON Schema object (a map, a struct or
	// json.RawMessage); nil: none.
	JSONSchema any `json:"jsonSchema,omitempty"`
}

// Upcaster is one step of an upcaster chain (From+1 == To).
type Upcaster struct {
	From int        `json:"from"`
	To   int        `json:"to"`
	Ops  []UpcastOp `json:"ops"`
}

// UpcastOp is one edit of eventData. Paths are dotted paths in eventData.
// Each op takes only its own fields (see docs/api.md):
//
//	rename  {From, To}            To is the new member name
//	move    {From, To}
//	copy    {From, To}
//	default {Path, Value}         only when absent
//	set     {Path, Value}
//	remove  {Path}
//	map     {Path, Values, Default?}
//	split   {From, Separator, To: []string, Keep?}
//	join    {From: []string, Separator, To, Keep?}
//
// From and To are a string, or a []string where noted. A Value or Default
// of JSON null is json.RawMessage("null") (nil leaves the field out).
type UpcastOp struct {
	Op        string         `json:"op"`
	Path      string         `json:"path,omitempty"`
	From      any            `json:"from,omitempty"`
	To        any            `json:"to,omitempty"`
	Value     any            `json:"value,omitempty"`
	Values    map[string]any `json:"values,omitempty"`
	Default   any            `json:"default,omitempty"`
	Separator *string        `json:"separator,omitempty"`
	Keep      bool           `json:"keep,omitempty"`
}

// Schema is a registered event-type schema.
type Schema struct {
	EventType      string          `json:"eventType"`
	CurrentVersion int             `json:"currentVersion"`
	Upcasters      []Upcaster      `json:"upcasters"`
	JSONSchema     json.RawMessage `json:"jsonSchema"` // null when none
	// Revision hashes CurrentVersion and the chain.
	Revision string `json:"revision"`
}

// PutSchema registers or replaces an event type's schema. CurrentVersion
// never goes down. An identical definition writes nothing, so the call is
// retried like a read.
func (c *Client) PutSchema(ctx context.Context, eventType string, def SchemaDefinition) (*Schema, error) {
	if err := checkSegment("PutSchema", "event type", eventType); err != nil {
		return nil, err
	}
	var out Schema
	if _, err := c.do(ctx, &request{method: http.MethodPut, path: "/api/schemas/" + escape(eventType), body: def,
		idempotent: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetSchema reads an event type's schema (ErrNotFound if none).
func (c *Client) GetSchema(ctx context.Context, eventType string) (*Schema, error) {
	if err := checkSegment("GetSchema", "event type", eventType); err != nil {
		return nil, err
	}
	var out Schema
	if _, err := c.do(ctx, &request{method: http.MethodGet, path: "/api/schemas/" + escape(eventType), idempotent: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListSchemas lists every registered schema.
func (c *Client) ListSchemas(ctx context.Context) ([]Schema, error) {
	var out struct {
		Schemas []Schema `json:"schemas"`
	}
	if _, err := c.do(ctx, &request{method: http.MethodGet, path: "/api/schemas", idempotent: true}, &out); err != nil {
		return nil, err
	}
	return out.Schemas, nil
}
