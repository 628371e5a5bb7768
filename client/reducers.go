package client

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
)

// ReducerDefinition registers a reducer (PUT /api/reducers/{name}): how
// each event type changes a stream's state.
type ReducerDefinition struct {
	// Category binds the reducer to the streams of that category (the id's
	// part before its first '-' or '_'); empty: none.
	Category string `json:"category,omitempty"`
	// Handlers maps event types to the ops that apply them, in order.
	Handlers map[string]ReducerOps `json:"handlers"`
}

// ReducerOp is one state change:
//
//	merge     RFC 7386 merge of From into Path
//	set       Path = From
//	unset     remove Path
//	increment Path += the number at From, or By (default 1)
//	append    push From onto the array at Path
//	delete    deleted: true, deletedAt: the event's timestamp
//
// Path is a dotted path in the state (default: the root); From is
// eventData[.path], metadata[.path], timestamp, streamId, version,
// position, eventType or eventId (default eventData).
type ReducerOp struct {
	Op   string      `json:"op"`
	Path string      `json:"path,omitempty"`
	From string      `json:"from,omitempty"`
	By   json.Number `json:"by,omitempty"` // increment only, exact ("1", "2.5")
}

// Reducer operation names.
const (
	OpMerge     = "merge"
	OpSet       = "set"
	OpUnset     = "unset"
	OpIncrement = "increment"
	OpAppend    = "append"
	OpDelete    = "delete"
)

// ReducerOps is the ops of one event type. It decodes from a single op
// object as well as from an array of them.
type ReducerOps []ReducerOp

// UnmarshalJSON accepts an op or a list of ops.
func (o *ReducerOps) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '{' {
		var one ReducerOp
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*o = ReducerOps{one}
		return nil
	}
	return json.Unmarshal(b, (*[]ReducerOp)(o))
}

// Reducer is a registered (or the built-in default) reducer.
type Reducer struct {
	Name     string `json:"name"`
	Category string `json:"category"` // "" when none
	// Revision changes whenever the definition changes.
	Revision string                `json:"revision"`
	BuiltIn  bool                  `json:"builtIn"`
	Handlers map[string]ReducerOps `json:"handlers"` // nil for "default"
}

// PutReducer registers or replaces a reducer. "default" cannot be
// replaced; a category already bound to another reducer is a 409. An
// identical definition writes nothing, so the call is retried like a read.
func (c *Client) PutReducer(ctx context.Context, name string, def ReducerDefinition) (*Reducer, error) {
	if err := checkSegment("PutReducer", "reducer name", name); err != nil {
		return nil, err
	}
	var out Reducer
	if _, err := c.do(ctx, &request{method: http.MethodPut, path: "/api/reducers/" + escape(name), body: def,
		idempotent: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetReducer reads one reducer (ErrNotFound if none).
func (c *Client) GetReducer(ctx context.Context, name string) (*Reducer, error) {
	if err := checkSegment("GetReducer", "reducer name", name); err != nil {
		return nil, err
	}
	var out Reducer
	if _, err := c.do(ctx, &request{method: http.MethodGet, path: "/api/reducers/" + escape(name), idempotent: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListReducers lists every reducer, "default" included, in name order.
func (c *Client) ListReducers(ctx context.Context) ([]Reducer, error) {
	var out struct {
		Reducers []Reducer `json:"reducers"`
	}
	if _, err := c.do(ctx, &request{method: http.MethodGet, path: "/api/reducers", idempotent: true}, &out); err != nil {
		return nil, err
	}
	return out.Reducers, nil
}
