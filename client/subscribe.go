package client

import (
	"context"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// ReconnectOptions say how a Subscription resumes after its connection
// ends (a network error, an idle connection, the daemon's "event: error"
// message, a daemon restart or shutdown).
type ReconnectOptions struct {
	// MaxReconnects is how many reconnection attempts in a row may fail
	// before the subscription ends with the last error; 0: no limit (the
	// subscription lasts until its context ends or Close). The count starts
	// again once a connection delivers an event or stays up 5s.
	MaxReconnects int
	// IdleTimeout: a connection that receives nothing (the daemon sends a
	// comment every 15s when idle) for this long is taken as dead and
	// replaced. 0: 45s; negative: never.
	IdleTimeout time.Duration
	// OnReconnect, if set, is called (on the subscription's goroutine)
	// before each wait to reconnect, with why the previous connection or
	// attempt ended, the attempt number (from 1) and the wait. It must
	// return promptly and must not call Close (which waits for that
	// goroutine): cancel the subscription's context instead.
	OnReconnect func(err error, attempt int, wait time.Duration)
}

// SubscribeOptions configure Subscribe ($all).
type SubscribeOptions struct {
	// FromPosition: deliver the events after this position (exclusive). The
	// zero value starts at the beginning of the log.
	FromPosition uint64
	// Live starts at the head of the log (only events written from now),
	// ignoring FromPosition.
	Live bool
	// EventTypes keeps only events of these types (none: all).
	EventTypes []string
	// StreamPrefix keeps only streams whose id starts with it.
	StreamPrefix string
	// ExcludeSystem leaves out the system streams ($commands, ...).
	ExcludeSystem bool
	// Raw delivers events as stored, without upcasting (upcast=false).
	Raw bool
	// PlainMessages asks the daemon for plain messages (messages=plain:
	// no event: line, the type only in the event's data). The client reads
	// both forms alike; this is for proxies or tools that route on
	// event names.
	PlainMessages bool
	ReconnectOptions
}

// StreamSubscribeOptions configure SubscribeStream.
type StreamSubscribeOptions struct {
	// FromVersion: deliver the stream's events after this version
	// (exclusive). The zero value starts at the stream's first event.
	FromVersion uint64
	// Live delivers only events written from now, ignoring FromVersion.
	Live bool
	// Raw delivers events as stored, without upcasting (upcast=false).
	Raw bool
	// PlainMessages asks the daemon for plain messages (messages=plain:
	// no event: line, the type only in the event's data). The client reads
	// both forms alike; this is for proxies or tools that route on
	// event names.
	PlainMessages bool
	ReconnectOptions
}

// Subscription delivers events over Server-Sent Events, in position order,
// each exactly once, across reconnections: when its connection ends it
// reconnects with backoff, sending Last-Event-ID = the position of the last
// event it delivered, and drops anything at or below that position should
// the daemon repeat it.
//
// Range over Events until it is closed, then check Err:
//
//	sub, err := c.Subscribe(ctx, client.SubscribeOptions{})
//	if err != nil { ... }
//	defer sub.Close()
//	for ev := range sub.Events() {
//		...
//	}
//	if err := sub.Err(); err != nil { ... }
//
// Transient failures are not errors of the subscription: it resumes (they
// can be observed with ReconnectOptions.OnReconnect). It ends when its
// context ends, when Close is called, on an error answer that will not go
// away by itself (4xx: a bad request, a missing or insufficient API key),
// on an answer it cannot parse, or when ReconnectOptions.MaxReconnects
// attempts in a row fail.
type Subscription struct {
	c       *Client
	path    string     // escaped route
	query   url.Values // filters; the start point is added per connection
	stream  bool       // a stream subscription: resume by Last-Event-ID only
	fromVer uint64     // stream: start version while no position is known
	opts    ReconnectOptions

	last    atomic.Uint64 // position of the last delivered event (or the start)
	hasLast bool          // stream: last is meaningful (run goroutine only, then)

	events chan Event
	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}

	mu     sync.Mutex
	err    error
	closed bool
}

// Subscribe subscribes to the global log ($all, GET /api/subscribe). It
// returns once the first connection is established (retrying transient
// failures per the client's RetryPolicy), or with the error that prevented
// it. The subscription lives until ctx ends or Close is called.
func (c *Client) Subscribe(ctx context.Context, opts SubscribeOptions) (*Subscription, error) {
	q := url.Values{}
	setFilter(q, opts.EventTypes, opts.StreamPrefix, opts.ExcludeSystem)
	if opts.Raw {
		q.Set("upcast", "false")
	}
	if opts.PlainMessages {
		q.Set("messages", "plain")
	}
	s := c.newSubscription(ctx, "/api/subscribe", q, opts.ReconnectOptions)
	from := opts.FromPosition
	if opts.Live {
		h, err := c.head(ctx)
		if err != nil {
			s.cancel()
			return nil, err
		}
		from = h
	}
	s.last.Store(from)
	s.hasLast = true
	return s.start()
}

// SubscribeStream subscribes to one stream (GET
// /api/streams/{streamId}/subscribe); see Subscribe. A stream that does
// not exist yet is not an error: its events arrive once written.
func (c *Client) SubscribeStream(ctx context.Context, streamID string, opts StreamSubscribeOptions) (*Subscription, error) {
	if err := checkSegment("SubscribeStream", "stream id", streamID); err != nil {
		return nil, err
	}
	q := url.Values{}
	if opts.Raw {
		q.Set("upcast", "false")
	}
	if opts.PlainMessages {
		q.Set("messages", "plain")
	}
	s := c.newSubscription(ctx, "/api/streams/"+escape(streamID)+"/subscribe", q, opts.ReconnectOptions)
	s.stream, s.fromVer = true, opts.FromVersion
	if opts.Live {
		h, err := c.head(ctx)
		if err != nil {
			s.cancel()
			return nil, err
		}
		s.last.Store(h) // "this stream's events after position h"
		s.hasLast = true
	}
	return s.start()
}

func (c *Client) newSubscription(ctx context.Context, path string, q url.Values, opts ReconnectOptions) *Subscription {
	if opts.IdleTimeout == 0 {
		opts.IdleTimeout = 45 * time.Second
	}
	s := &Subscription{c: c, path: path, query: q, opts: opts, events: make(chan Event), done: make(chan struct{})}
	s.ctx, s.cancel = context.WithCancel(ctx)
	return s
}

// head is the log's head position, from /health (which answers it even
// when degraded).
func (c *Client) head(ctx context.Context) (uint64, error) {
	h, err := c.Health(ctx)
	if h != nil {
		return h.HeadPosition, nil
	}
	return 0, err
}

// Events delivers the events. It is closed when the subscription ends.
func (s *Subscription) Events() <-chan Event { return s.events }

// Err is why the subscription ended: nil before it has ended and after
// Close, ctx's error when its context ended, else the error that stopped
// it (an *APIError for an error answer).
func (s *Subscription) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Done is closed when the subscription has ended and Events is closed.
func (s *Subscription) Done() <-chan struct{} { return s.done }

// LastPosition is the position of the last event delivered (or of the
// start point, before any), where a new subscription would resume. It is
// updated just after the consumer has taken the event from Events, so it
// may lag the event being handled by an instant; checkpoint with the
// events' own Position.
func (s *Subscription) LastPosition() uint64 { return s.last.Load() }

// Close ends the subscription and waits until its goroutine has stopped
// and Events is closed. It may be called more than once, from any
// goroutine.
func (s *Subscription) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	<-s.done
	return nil
}

// finish records why the subscription ended.
func (s *Subscription) finish(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		s.err = nil
	case s.ctx.Err() != nil:
		s.err = context.Cause(s.ctx)
	default:
		s.err = err
	}
}

// startQuery is the query of the next connection: the filters plus the
// start point when no Last-Event-ID is sent.
func (s *Subscription) startQuery() (url.Values, string) {
	q := url.Values{}
	for k, v := range s.query {
		q[k] = v
	}
	pos := strconv.FormatUint(s.last.Load(), 10)
	switch {
	case !s.stream:
		q.Set("fromPosition", pos)
		return q, pos
	case s.hasLast:
		return q, pos
	default:
		q.Set("fromVersion", strconv.FormatUint(s.fromVer, 10))
		return q, ""
	}
}
