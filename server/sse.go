package server

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"os"
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
// or, with ?messages=plain, the same without the event: line: browsers
// dispatch a named message only to listeners of that name (onmessage gets
// nothing, and a type called "error" fires onerror), so a browser app that
// wants every event in onmessage asks for plain messages and reads the type
// from the data's eventType. The server's own end-of-subscription message
// is "event: error" in both forms.
//
// and a comment line (": heartbeat") goes out every Config.Heartbeat while
// nothing else does. The engine's Subscription reads from disk whenever the
// client falls behind, so a slow consumer is fed from disk, never from a
// queue in memory.
//
// What a subscriber holds is bounded in bytes, not events: one read takes
// at most sseReadBytes of events (a larger event comes alone), they are
// rendered and written sseFlushAt bytes at a time, and the render buffer
// goes back to the pool only if it is small. Between reads it holds
// nothing. All subscribers together hold at most Config.SSEMemory: a read
// first reserves its bytes there (byteBudget), waiting while the budget is
// spent. A subscriber that accepts no bytes for Config.SSEWriteTimeout is
// dropped (logged, and counted in eventd_subscribers_dropped_total), which
// returns its memory.

const (
	// sseBatch is how many events one read may return.
	sseBatch = 512
	// sseReadBytes is how many bytes of events one read may hold.
	sseReadBytes = 256 << 10
	// sseFlushAt is the size at which rendered messages are written out.
	sseFlushAt = 32 << 10
	// sseKeepBuf is the largest render buffer kept for reuse.
	sseKeepBuf = 64 << 10
)

// Reasons for eventd_subscribers_dropped_total.
const (
	dropWriteTimeout = "write_timeout" // the client stopped reading
	dropError        = "error"         // the store closed or a read failed
)

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
	plain, e := q.messagesPlain()
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
	s.serveSubscription(w, r, plain, func() *engine.Subscription {
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
	plain, e := q.messagesPlain()
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
	s.serveSubscription(w, r, plain, func() *engine.Subscription {
		if !upcast {
			return s.store.Stored().SubscribeStream(id, fromVersion, fromPos)
		}
		return s.store.SubscribeStream(id, fromVersion, fromPos)
	})
}

func (s *Server) serveSubscription(w http.ResponseWriter, r *http.Request, plain bool, open func() *engine.Subscription) {
	if s.streams.Err() != nil {
		writeError(w, errf(http.StatusServiceUnavailable, codeUnavailable, "the server is shutting down"))
		return
	}
	if r.Method == http.MethodHead { // the headers of the stream, no subscription
		setSSEHeaders(w.Header())
		w.WriteHeader(http.StatusOK)
		return
	}
	markSubscription(w) // from here on, not a latency (httpmetrics.go)
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	stop := context.AfterFunc(s.streams, cancel)
	defer stop()

	sub := open()
	defer sub.Close()

	setSSEHeaders(w.Header())
	w.WriteHeader(http.StatusOK)
	sw := &sseWriter{w: w, rc: http.NewResponseController(w), timeout: s.cfg.SSEWriteTimeout, plain: plain}
	defer func() {
		// (A failed write also cancels the request's context: test the error.)
		if sw.err != nil && isTimeout(sw.err) {
			s.dropSubscriber(r, sub, dropWriteTimeout, sw.err)
		}
	}()
	if !sw.send([]byte(": subscribed\n\n")) {
		return
	}

	// A read's reservation covers a full page, or one event of the
	// largest size appends take, and the render buffer.
	reserve := int64(max(sseReadBytes, s.cfg.MaxEventSize+1<<10) + 2*sseFlushAt)
	for {
		// Wait for events, then reserve memory for them: neither holds
		// anything meanwhile. Quiet for a heartbeat interval: a comment.
		wctx, wcancel := context.WithTimeout(ctx, s.cfg.Heartbeat)
		err := sub.Wait(wctx)
		if err == nil {
			err = s.sseMem.acquire(wctx, reserve)
		}
		quiet := errors.Is(err, context.DeadlineExceeded) && wctx.Err() == context.DeadlineExceeded
		wcancel()
		if err != nil {
			switch {
			case ctx.Err() != nil:
				return
			case quiet:
				if !sw.send([]byte(": heartbeat\n\n")) {
					return
				}
				continue
			}
			s.endSubscription(r, sub, sw, err)
			return
		}
		evs, err := sub.TryNext(sseBatch, sseReadBytes)
		held := heldBytes(evs)
		if held > reserve {
			s.sseMem.force(held - reserve)
		} else {
			s.sseMem.release(reserve - held)
		}
		if err != nil {
			s.sseMem.release(held)
			s.endSubscription(r, sub, sw, err)
			return
		}
		ok := len(evs) == 0 || sw.sendEvents(evs)
		evs = nil // written: let it go before the next wait
		s.sseMem.release(held)
		if !ok {
			return
		}
	}
}

func setSSEHeaders(h http.Header) {
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
}

// heldBytes is what a read's events cost against the SSE budget: the
// events and the render buffer (under 2×sseFlushAt: see appendRaw).
func heldBytes(evs []engine.Event) int64 {
	if len(evs) == 0 {
		return 0
	}
	sum := 0
	for i := range evs {
		sum += engine.EventMemSize(&evs[i])
	}
	return int64(sum + 2*sseFlushAt)
}

// endSubscription tells the client why its subscription ends (the store
// closed or a read failed) and counts the drop.
func (s *Server) endSubscription(r *http.Request, sub *engine.Subscription, sw *sseWriter, err error) {
	b := appendString([]byte("event: error\ndata: "), err.Error())
	b = append(b, "\n\n"...)
	sw.send(b)
	s.metrics.subsDropped.WithLabelValues(dropError).Inc()
	s.log.Warn("ending an SSE subscription", "reason", dropError, "err", err, "route", sseRoute(r), "position", sub.Position(), "remote", r.RemoteAddr)
}

// dropSubscriber logs and counts a subscriber dropped for reason.
func (s *Server) dropSubscriber(r *http.Request, sub *engine.Subscription, reason string, err error) {
	s.metrics.subsDropped.WithLabelValues(reason).Inc()
	s.log.Warn("dropping a stalled SSE subscriber", "reason", reason, "timeout", s.cfg.SSEWriteTimeout, "route", sseRoute(r), "position", sub.Position(), "remote", r.RemoteAddr, "err", err)
}

// sseRoute names a subscription's route without its stream id.
func sseRoute(r *http.Request) string {
	if strings.HasPrefix(r.URL.Path, "/api/streams/") {
		return "/api/streams/:streamId/subscribe"
	}
	return "/api/subscribe"
}

// isTimeout tells a write deadline that passed from other write errors
// (the client went away).
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// sseWriter writes to a subscriber, each write bounded by timeout; the
// first error sticks.
type sseWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	plain   bool // ?messages=plain: no event: line
	err     error
}

// write writes b (not flushed).
func (sw *sseWriter) write(b []byte) bool {
	if sw.err != nil {
		return false
	}
	_ = sw.rc.SetWriteDeadline(time.Now().Add(sw.timeout))
	_, sw.err = sw.w.Write(b)
	return sw.err == nil
}

// send writes b and flushes it to the client.
func (sw *sseWriter) send(b []byte) bool {
	if !sw.write(b) {
		return false
	}
	_ = sw.rc.SetWriteDeadline(time.Now().Add(sw.timeout))
	sw.err = sw.rc.Flush()
	return sw.err == nil
}

// sendEvents renders evs and sends them, sseFlushAt bytes at a time.
// eventData and metadata larger than sseFlushAt are written from the event
// itself, never copied into the render buffer.
func (sw *sseWriter) sendEvents(evs []engine.Event) bool {
	bp := getBuf()
	b := (*bp)[:0]
	for i := range evs {
		if b = sw.appendMessage(b, &evs[i]); sw.err != nil {
			break
		}
		if len(b) >= sseFlushAt {
			sw.write(b)
			b = b[:0]
		}
	}
	ok := sw.send(b)
	if cap(b) <= sseKeepBuf { // a large buffer is not kept
		*bp = b
		putBuf(bp)
	}
	return ok
}

// appendMessage appends e as one SSE message: the Event of appendEvent on
// one data line. It may write out b (and return it emptied) to send a
// large eventData or metadata without copying it.
func (sw *sseWriter) appendMessage(b []byte, e *engine.Event) []byte {
	b = append(b, "id: "...)
	b = appendUint(b, e.Position)
	if !sw.plain {
		b = append(b, "\nevent: "...)
		b = append(b, e.Type...)
	}
	b = append(b, "\ndata: "...)
	data, meta := e.Data, e.Metadata
	// Stored JSON with line breaks is compacted onto the one line (both
	// members, as compacting the whole Event would).
	if bytes.ContainsAny(data, "\r\n") || bytes.ContainsAny(meta, "\r\n") {
		data, meta = compactOr(data), compactOr(meta)
	}
	b = appendEventHead(b, e)
	b = sw.appendRaw(b, data)
	b = append(b, `,"metadata":`...)
	b = sw.appendRaw(b, meta)
	b = append(b, `,"timestamp":`...)
	b = appendTime(b, e.Timestamp)
	return append(b, "}\n\n"...)
}

// appendRaw appends a stored JSON object ("{}" when empty). The render
// buffer stays under sseFlushAt plus a message's head: b is written out
// first when raw would take it past that, and a raw object of sseFlushAt or
// more is written from where it is.
func (sw *sseWriter) appendRaw(b, raw []byte) []byte {
	if len(raw) == 0 {
		return append(b, "{}"...)
	}
	if len(b)+len(raw) < sseFlushAt {
		return append(b, raw...)
	}
	sw.write(b)
	if len(raw) < sseFlushAt {
		return append(b[:0], raw...)
	}
	sw.write(raw)
	return b[:0]
}

// compactOr compacts valid JSON (or returns it as it is).
func compactOr(raw []byte) []byte {
	if c, err := compactJSON(raw); err == nil {
		return c
	}
	return raw
}
