package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/eventd/eventd/engine"
)

// Server-Sent Events subscriptions. Each message is
//
//	id: <position>
//	event: <eventType>
//	data: <Event JSON on one line>
//
// and a comment line (": heartbeat") goes out every Config.Heartbeat while
// nothing else does. The engine's Subscription reads from disk whenever the
// client falls behind, so a slow consumer holds no events in memory and is
// never dropped: the handler simply blocks in Write until the client reads.

// sseBatch is how many events one Next call may return.
const sseBatch = 512

// sseWriteTimeout bounds one write to a subscriber that stopped reading.
const sseWriteTimeout = 5 * time.Minute

// lastEventID reads the Last-Event-ID header (a position), which wins over
// the query's start point on reconnect.
func lastEventID(r *http.Request) (uint64, bool, *apiError) {
	v := strings.TrimSpace(r.Header.Get("Last-Event-ID"))
	if v == "" {
		return 0, false, nil
	}
	n, err := parseUint(v)
	if err != nil {
		return 0, false, badRequest("Last-Event-ID " + quoteShort(v) + ": want a position (a non-negative integer)")
	}
	return n, true, nil
}

// handleSubscribeAll is GET /api/subscribe: $all as SSE.
func (s *Server) handleSubscribeAll(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	q, e := parseQuery(r)
	if e != nil {
		writeError(w, e)
		return
	}
	from, fromSet, e := q.uint("fromPosition")
	if e != nil {
		writeError(w, e)
		return
	}
	f, e := filterFrom(q)
	if e != nil {
		writeError(w, e)
		return
	}
	upcast, e := q.boolean("upcast", true)
	if e != nil {
		writeError(w, e)
		return
	}
	last, lastSet, e := lastEventID(r)
	if e != nil {
		writeError(w, e)
		return
	}
	switch {
	case lastSet:
		from = last
	case !fromSet:
		from = s.store.Head() // no start point: live from the head
	}
	s.serveSubscription(w, r, func() *engine.Subscription {
		if !upcast {
			return s.store.Stored().Subscribe(from, f)
		}
		return s.store.Subscribe(from, f)
	})
}

// handleSubscribeStream is GET /api/streams/{streamId}/subscribe.
func (s *Server) handleSubscribeStream(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	id := ps.ByName("streamId")
	if e := checkReadStreamID(id); e != nil {
		writeError(w, e)
		return
	}
	q, e := parseQuery(r)
	if e != nil {
		writeError(w, e)
		return
	}
	fromVersion, fromSet, e := q.uint("fromVersion")
	if e != nil {
		writeError(w, e)
		return
	}
	upcast, e := q.boolean("upcast", true)
	if e != nil {
		writeError(w, e)
		return
	}
	last, lastSet, e := lastEventID(r)
	if e != nil {
		writeError(w, e)
		return
	}
	var fromPos uint64
	switch {
	case lastSet: // a position; 0 means before the first event: the whole stream
		fromPos, fromVersion = last, 0
	case !fromSet:
		fromPos = s.store.Head()
	}
	s.serveSubscription(w, r, func() *engine.Subscription {
		if !upcast {
			return s.store.Stored().SubscribeStream(id, fromVersion, fromPos)
		}
		return s.store.SubscribeStream(id, fromVersion, fromPos)
	})
}

func (s *Server) serveSubscription(w http.ResponseWriter, r *http.Request, open func() *engine.Subscription) {
	if s.streams.Err() != nil {
		writeError(w, errf(http.StatusServiceUnavailable, codeUnavailable, "the server is shutting down"))
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(s.streams, cancel)
	defer stop()

	sub := open()
	defer sub.Close()

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	_ = rc.SetWriteDeadline(time.Now().Add(sseWriteTimeout))
	if _, err := w.Write([]byte(": subscribed\n\n")); err != nil {
		return
	}
	if err := rc.Flush(); err != nil {
		return
	}

	bp := getBuf()
	defer putBuf(bp)
	var ev []byte
	for {
		nctx, ncancel := context.WithTimeout(ctx, s.cfg.Heartbeat)
		evs, err := sub.Next(nctx, sseBatch)
		quiet := errors.Is(err, context.DeadlineExceeded) && nctx.Err() == context.DeadlineExceeded
		ncancel()
		b := (*bp)[:0]
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if quiet { // nothing for a heartbeat interval
				b = append(b, ": heartbeat\n\n"...)
			} else { // the store closed or a read failed: tell the client, end
				b = append(b, "event: error\ndata: "...)
				b = appendString(b, err.Error())
				b = append(b, "\n\n"...)
				_ = rc.SetWriteDeadline(time.Now().Add(sseWriteTimeout))
				_, _ = w.Write(b)
				_ = rc.Flush()
				*bp = b
				return
			}
		}
		for i := range evs {
			e := &evs[i]
			b = append(b, "id: "...)
			b = appendUint(b, e.Position)
			b = append(b, "\nevent: "...)
			b = append(b, e.Type...)
			b = append(b, "\ndata: "...)
			ev = appendEvent(ev[:0], e)
			if bytes.ContainsAny(ev, "\r\n") { // stored JSON had line breaks: one line
				var c bytes.Buffer
				if json.Compact(&c, ev) == nil {
					ev = append(ev[:0], c.Bytes()...)
				}
			}
			b = append(b, ev...)
			b = append(b, "\n\n"...)
		}
		*bp = b
		_ = rc.SetWriteDeadline(time.Now().Add(sseWriteTimeout))
		if _, err := w.Write(b); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}
