package client

import (
	"context"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// ReadStreamOptions selects a page of one stream's events.
type ReadStreamOptions struct {
	// FromVersion is exclusive in the reading direction: forward reads
	// return versions above it, backward reads versions below it. 0 means
	// the start (forward) or the end (backward) of the stream.
	FromVersion uint64
	// Limit is the page size, 1–10000 (0: the daemon's default, 1000).
	Limit int
	// Direction is Forward (the default) or Backward.
	Direction Direction
	// Raw reads events as stored, without upcasting (upcast=false).
	Raw bool
}

// StreamPage is one page of a stream read.
type StreamPage struct {
	StreamID       string  `json:"streamId"`
	Events         []Event `json:"events"`
	CurrentVersion uint64  `json:"currentVersion"` // 0: the stream has no events
	// NextFromVersion, when not nil, is the last version of this page and
	// more events follow in the reading direction: Next reads them.
	NextFromVersion *uint64 `json:"nextFromVersion,omitempty"`

	c    *Client
	opts ReadStreamOptions
}

// HasNext reports whether more events follow this page.
func (p *StreamPage) HasNext() bool { return p.NextFromVersion != nil }

// Next reads the page after p, or returns ErrNoMorePages.
func (p *StreamPage) Next(ctx context.Context) (*StreamPage, error) {
	if !p.HasNext() || p.c == nil {
		return nil, ErrNoMorePages
	}
	return p.c.readStream(ctx, p.StreamID, p.opts, p.NextFromVersion)
}

// ReadStream reads one page of a stream's events (GET
// /api/events/{streamId}). A stream that does not exist reads as an empty
// page with CurrentVersion 0, not an error.
func (c *Client) ReadStream(ctx context.Context, streamID string, opts ReadStreamOptions) (*StreamPage, error) {
	var from *uint64
	if opts.FromVersion > 0 {
		from = &opts.FromVersion
	}
	return c.readStream(ctx, streamID, opts, from)
}

func (c *Client) readStream(ctx context.Context, streamID string, opts ReadStreamOptions, from *uint64) (*StreamPage, error) {
	if err := checkSegment("ReadStream", "stream id", streamID); err != nil {
		return nil, err
	}
	q := url.Values{}
	if from != nil {
		q.Set("fromVersion", strconv.FormatUint(*from, 10))
	}
	setPaging(q, opts.Limit, opts.Direction, opts.Raw)
	p := &StreamPage{c: c, opts: opts}
	if _, err := c.do(ctx, &request{method: http.MethodGet, path: "/api/events/" + escape(streamID),
		query: q, idempotent: true}, p); err != nil {
		return nil, err
	}
	return p, nil
}

// StreamEvents iterates over a stream's events, every page of them, in
// the direction of opts (from opts.FromVersion). After an error the
// iteration yields it and stops.
//
//	for ev, err := range c.StreamEvents(ctx, "order-1", client.ReadStreamOptions{}) {
//		if err != nil { return err }
//		...
//	}
func (c *Client) StreamEvents(ctx context.Context, streamID string, opts ReadStreamOptions) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		p, err := c.ReadStream(ctx, streamID, opts)
		for {
			if err != nil {
				yield(Event{}, err)
				return
			}
			for _, ev := range p.Events {
				if !yield(ev, nil) {
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

// ReadAllOptions selects a page of the global log ($all).
type ReadAllOptions struct {
	// FromPosition is exclusive in the reading direction; 0 means the
	// start (forward) or the end (backward) of the log.
	FromPosition uint64
	// Limit is the page size, 1–10000 (0: the daemon's default, 1000).
	Limit int
	// Direction is Forward (the default) or Backward.
	Direction Direction
	// EventTypes keeps only events of these types (none: all).
	EventTypes []string
	// StreamPrefix keeps only streams whose id starts with it.
	StreamPrefix string
	// ExcludeSystem leaves out the system streams ($commands, ...).
	ExcludeSystem bool
	// Raw reads events as stored, without upcasting (upcast=false).
	Raw bool
}

// AllPage is one page of a $all read.
type AllPage struct {
	Events       []Event `json:"events"`
	HeadPosition uint64  `json:"headPosition"`
	// NextFromPosition, when not nil, is where the next page starts
	// (exclusive). A filtered read may stop after examining many events
	// and return a short or even empty page with NextFromPosition set:
	// keep paging.
	NextFromPosition *uint64 `json:"nextFromPosition,omitempty"`

	c    *Client
	opts ReadAllOptions
}

// HasNext reports whether more events may follow this page.
func (p *AllPage) HasNext() bool { return p.NextFromPosition != nil }

// Next reads the page after p, or returns ErrNoMorePages.
func (p *AllPage) Next(ctx context.Context) (*AllPage, error) {
	if !p.HasNext() || p.c == nil {
		return nil, ErrNoMorePages
	}
	return p.c.readAll(ctx, p.opts, p.NextFromPosition)
}

// ReadAll reads one page of the global log (GET /api/all).
func (c *Client) ReadAll(ctx context.Context, opts ReadAllOptions) (*AllPage, error) {
	var from *uint64
	if opts.FromPosition > 0 {
		from = &opts.FromPosition
	}
	return c.readAll(ctx, opts, from)
}

func (c *Client) readAll(ctx context.Context, opts ReadAllOptions, from *uint64) (*AllPage, error) {
	q := url.Values{}
	if from != nil {
		q.Set("fromPosition", strconv.FormatUint(*from, 10))
	}
	setPaging(q, opts.Limit, opts.Direction, opts.Raw)
	setFilter(q, opts.EventTypes, opts.StreamPrefix, opts.ExcludeSystem)
	p := &AllPage{c: c, opts: opts}
	if _, err := c.do(ctx, &request{method: http.MethodGet, path: "/api/all", query: q, idempotent: true}, p); err != nil {
		return nil, err
	}
	return p, nil
}

// AllEvents iterates over the global log, every page of it, in the
// direction of opts. After an error the iteration yields it and stops.
func (c *Client) AllEvents(ctx context.Context, opts ReadAllOptions) iter.Seq2[Event, error] {
	return func(yield func(Event, error) bool) {
		p, err := c.ReadAll(ctx, opts)
		for {
			if err != nil {
				yield(Event{}, err)
				return
			}
			for _, ev := range p.Events {
				if !yield(ev, nil) {
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

func setPaging(q url.Values, limit int, dir Direction, raw bool) {
	if limit != 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if dir != "" {
		q.Set("direction", string(dir))
	}
	if raw {
		q.Set("upcast", "false")
	}
}

func setFilter(q url.Values, eventTypes []string, prefix string, excludeSystem bool) {
	if len(eventTypes) > 0 {
		q.Set("eventTypes", strings.Join(eventTypes, ","))
	}
	if prefix != "" {
		q.Set("streamPrefix", prefix)
	}
	if excludeSystem {
		q.Set("excludeSystem", "true")
	}
}
