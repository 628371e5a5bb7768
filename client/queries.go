package client

import (
	"context"
	"encoding/json"
	"iter"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// QueryOptions are the read-your-writes options of Query.
type QueryOptions struct {
	// MinPosition makes the daemon wait until the projection has processed
	// this position (e.g. the Position of an append, or
	// CommandResult.LastPosition) before answering, so the caller reads its
	// own write. Not reached within Timeout: ErrUnavailable (503), which is
	// then not retried. 0: no wait.
	MinPosition uint64
	// Timeout bounds the MinPosition wait, at most 30s (0: the daemon's
	// default, 5s). The call's context should allow for it.
	Timeout time.Duration
}

// QueryListOptions select a page of a projection's read model.
type QueryListOptions struct {
	// Where keeps entries whose value has every field equal to the given
	// text (top-level fields; strings by text, numbers as written,
	// "true"/"false"/"null" for those values).
	Where  map[string]string
	Limit  int    // 1–10000 (0: the daemon's default, 1000)
	Cursor string // NextCursor of the previous page
	QueryOptions
}

// QueryEntry is one entry of a read model.
type QueryEntry struct {
	QueryID string `json:"queryId"`
	// Position is the projection's last processed position: the value
	// reflects at least every event up to it.
	Position uint64          `json:"position"`
	Key      string          `json:"key"`
	Value    json.RawMessage `json:"value"`
}

// Decode unmarshals the entry's value into v.
func (e *QueryEntry) Decode(v any) error { return json.Unmarshal(e.Value, v) }

// QueryItem is one entry of a QueryPage.
type QueryItem struct {
	Key   string          `json:"key"`
	Value json.RawMessage `json:"value"`
}

// Decode unmarshals the item's value into v.
func (i *QueryItem) Decode(v any) error { return json.Unmarshal(i.Value, v) }

// QueryPage is one page of a read model, in key order.
type QueryPage struct {
	QueryID  string      `json:"queryId"`
	Position uint64      `json:"position"` // see QueryEntry.Position
	Items    []QueryItem `json:"items"`
	// NextCursor is set when more entries may follow: Next reads them. A
	// page may be short, even empty, and still have one.
	NextCursor string `json:"nextCursor,omitempty"`

	c    *Client
	id   string
	opts QueryListOptions
}

// HasNext reports whether more entries may follow this page.
func (p *QueryPage) HasNext() bool { return p.NextCursor != "" }

// Next reads the page after p, or returns ErrNoMorePages.
func (p *QueryPage) Next(ctx context.Context) (*QueryPage, error) {
	if !p.HasNext() || p.c == nil {
		return nil, ErrNoMorePages
	}
	o := p.opts
	o.Cursor = p.NextCursor
	return p.c.QueryList(ctx, p.id, o)
}

func (o QueryOptions) set(q url.Values) {
	if o.MinPosition > 0 {
		q.Set("minPosition", strconv.FormatUint(o.MinPosition, 10))
		if o.Timeout > 0 {
			q.Set("timeout", o.Timeout.String())
		}
	}
}

// Query reads one entry of a projection's read model by key (GET
// /api/queries/{projectionId}?key=). Unknown projection or key:
// ErrNotFound.
func (c *Client) Query(ctx context.Context, projectionID, key string, opts QueryOptions) (*QueryEntry, error) {
	if err := checkSegment("Query", "projection id", projectionID); err != nil {
		return nil, err
	}
	q := url.Values{"key": {key}}
	opts.set(q)
	var out QueryEntry
	if _, err := c.do(ctx, &request{method: http.MethodGet, path: "/api/queries/" + escape(projectionID), query: q,
		idempotent: true, no503Retry: opts.MinPosition > 0}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// QueryList reads one page of a projection's read model (GET
// /api/queries/{projectionId}).
func (c *Client) QueryList(ctx context.Context, projectionID string, opts QueryListOptions) (*QueryPage, error) {
	if err := checkSegment("QueryList", "projection id", projectionID); err != nil {
		return nil, err
	}
	q := url.Values{}
	fields := make([]string, 0, len(opts.Where))
	for f := range opts.Where {
		fields = append(fields, f)
	}
	slices.Sort(fields)
	for _, f := range fields {
		q.Add("where", f+":"+opts.Where[f])
	}
	if opts.Limit != 0 {
		q.Set("limit", strconv.Itoa(opts.Limit))
	}
	if opts.Cursor != "" {
		q.Set("cursor", opts.Cursor)
	}
	opts.QueryOptions.set(q)
	p := &QueryPage{c: c, id: projectionID, opts: opts}
	if _, err := c.do(ctx, &request{method: http.MethodGet, path: "/api/queries/" + escape(projectionID), query: q,
		idempotent: true, no503Retry: opts.MinPosition > 0}, p); err != nil {
		return nil, err
	}
	return p, nil
}

// QueryItems iterates over every entry of a read model matching opts,
// following the cursors. After an error the iteration yields it and stops.
func (c *Client) QueryItems(ctx context.Context, projectionID string, opts QueryListOptions) iter.Seq2[QueryItem, error] {
	return func(yield func(QueryItem, error) bool) {
		p, err := c.QueryList(ctx, projectionID, opts)
		for {
			if err != nil {
				yield(QueryItem{}, err)
				return
			}
			for _, it := range p.Items {
				if !yield(it, nil) {
					return
				}
			}
			if !p.HasNext() {
				return
			}
			p, err = p.Next(ctx)
		}
	}
}
