package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"
)

// StreamError is the daemon's "event: error" message, sent before it ends
// a subscription (its store closed, or a read failed). The subscription
// reconnects after it; OnReconnect sees it.
type StreamError struct {
	Message string
}

func (e *StreamError) Error() string { return "eventd: subscription ended by the daemon: " + e.Message }

// errIdle ends a connection that received nothing for IdleTimeout.
var errIdle = errors.New("eventd client: subscription connection idle past its timeout")

// stableAfter is how long a connection must stay up to reset the count
// of failed reconnections.
const stableAfter = 5 * time.Second

// conn is one open subscription response.
type conn struct {
	ctx    context.Context
	body   io.ReadCloser
	cancel context.CancelCauseFunc
	idle   *time.Timer
}

func (cn *conn) close() {
	if cn.idle != nil {
		cn.idle.Stop()
	}
	cn.cancel(nil)
	cn.body.Close()
}

// start makes the first connection (transient failures retried per the
// client's RetryPolicy) and starts the delivery goroutine.
func (s *Subscription) start() (*Subscription, error) {
	for attempt := 1; ; attempt++ {
		cn, err, transient := s.connect()
		if err == nil {
			go s.run(cn)
			return s, nil
		}
		if !transient || attempt >= s.c.retry.MaxAttempts || sleep(s.ctx, s.c.retry.backoff(attempt)) != nil {
			s.cancel()
			close(s.events)
			close(s.done)
			return nil, err
		}
	}
}

// connect opens one subscription response. transient reports a failure
// worth another attempt (network errors, 5xx, 429).
func (s *Subscription) connect() (_ *conn, _ error, transient bool) {
	q, lastID := s.startQuery()
	ctx, cancel := context.WithCancelCause(s.ctx)
	req, err := s.c.newRequest(ctx, http.MethodGet, s.path, q, nil)
	if err != nil {
		cancel(nil)
		return nil, err, false
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	res, err := s.c.hc.Do(req)
	if err != nil {
		cancel(nil)
		return nil, err, true
	}
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(res.Body, maxErrorBody))
		res.Body.Close()
		cancel(nil)
		return nil, parseError(res.StatusCode, b), res.StatusCode >= 500 || res.StatusCode == http.StatusTooManyRequests
	}
	if mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type")); mt != "text/event-stream" {
		res.Body.Close()
		cancel(nil)
		return nil, fmt.Errorf("eventd client: subscription answered %q, not text/event-stream", res.Header.Get("Content-Type")), false
	}
	cn := &conn{ctx: ctx, body: res.Body, cancel: cancel}
	if d := s.opts.IdleTimeout; d > 0 {
		cn.idle = time.AfterFunc(d, func() { cancel(errIdle) })
	}
	return cn, nil, false
}

// idleReader restarts the idle timer whenever bytes arrive.
type idleReader struct {
	cn *conn
	d  time.Duration
}

func (r idleReader) Read(p []byte) (int, error) {
	n, err := r.cn.body.Read(p)
	if n > 0 && r.cn.idle != nil {
		r.cn.idle.Reset(r.d)
	}
	return n, err
}

// run delivers events until the subscription ends, reconnecting as needed.
func (s *Subscription) run(cn *conn) {
	defer close(s.done)
	defer close(s.events)
	defer s.cancel()
	failures := 0
	for {
		began := time.Now()
		delivered, err, fatal := s.consume(cn)
		cn.close()
		if s.ctx.Err() != nil {
			s.finish(nil)
			return
		}
		if fatal {
			s.finish(err)
			return
		}
		if delivered > 0 || time.Since(began) >= stableAfter {
			failures = 0
		}
		for {
			failures++
			if s.opts.MaxReconnects > 0 && failures > s.opts.MaxReconnects {
				s.finish(err)
				return
			}
			wait := s.c.retry.backoff(failures)
			if s.opts.OnReconnect != nil {
				s.opts.OnReconnect(err, failures, wait)
			}
			if sleep(s.ctx, wait) != nil {
				s.finish(nil)
				return
			}
			var transient bool
			cn, err, transient = s.connect()
			if err == nil {
				break
			}
			if s.ctx.Err() != nil {
				s.finish(nil)
				return
			}
			if !transient {
				s.finish(err)
				return
			}
		}
	}
}

// consume reads one connection's messages and delivers their events. It
// returns why the connection ended; fatal errors end the subscription.
func (s *Subscription) consume(cn *conn) (delivered int, err error, fatal bool) {
	r := newSSEReader(idleReader{cn: cn, d: s.opts.IdleTimeout})
	for {
		m, err := r.next()
		if err != nil {
			if cause := context.Cause(cn.ctx); errors.Is(cause, errIdle) {
				err = errIdle
			}
			if err == io.EOF {
				err = io.ErrUnexpectedEOF // the daemon ended the response
			}
			return delivered, err, false
		}
		// The event's type is read from its data, never from the event:
		// name, so typed and plain (messages=plain) messages are alike.
		// The daemon's own message before it ends is "event: error" with
		// no id (an event always has one, even one whose type is "error").
		if m.event == "error" && !m.hasID {
			var msg string
			if json.Unmarshal(m.data, &msg) != nil {
				msg = string(m.data)
			}
			return delivered, &StreamError{Message: msg}, false
		}
		var ev Event
		if err := json.Unmarshal(m.data, &ev); err != nil {
			return delivered, fmt.Errorf("eventd client: subscription message %q: %w", m.id, err), true
		}
		if ev.Position == 0 {
			return delivered, fmt.Errorf("eventd client: subscription message %q has no position", m.id), true
		}
		if s.hasLast && ev.Position <= s.last.Load() {
			continue // already delivered: the daemon repeated it
		}
		select {
		case s.events <- ev:
		case <-s.ctx.Done():
			return delivered, s.ctx.Err(), false
		}
		s.last.Store(ev.Position)
		s.hasLast = true
		delivered++
	}
}
