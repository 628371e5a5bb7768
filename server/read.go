package server

import (
	"encoding/base64"
	"net/http"

	"github.com/julienschmidt/httprouter"

	"github.com/eventd/eventd/engine"
)

// appendEvent renders one event in the API's Event shape; eventData and
// metadata are written back as the bytes that were stored.
func appendEvent(b []byte, e *engine.Event) []byte {
	b = appendEventHead(b, e)
	if len(e.Data) == 0 {
		b = append(b, "{}"...)
	} else {
		b = append(b, e.Data...)
	}
	b = append(b, `,"metadata":`...)
	if len(e.Metadata) == 0 {
		b = append(b, "{}"...)
	} else {
		b = append(b, e.Metadata...)
	}
	b = append(b, `,"timestamp":`...)
	b = appendTime(b, e.Timestamp)
	return append(b, '}')
}

// sendOK sends the success envelope around the rendered data in *bp.
func sendOK(w http.ResponseWriter, status int, bp *[]byte) {
	*bp = append(*bp, okSuffix...)
	writeRaw(w, status, *bp)
	putBuf(bp)
}

func startOK() *[]byte {
	bp := getBuf()
	*bp = append((*bp)[:0], okPrefix...)
	return bp
}

// eventList renders events into a JSON array body as a read delivers them
// (its add is the callback of ReadStreamFunc and ReadAllFunc).
type eventList struct {
	b                       []byte
	n                       int
	maxVersion, maxPosition uint64
}

func (l *eventList) add(e *engine.Event) error {
	if l.n > 0 {
		l.b = append(l.b, ',')
	}
	l.b = appendEvent(l.b, e)
	l.maxVersion = max(l.maxVersion, e.Version)
	l.maxPosition = max(l.maxPosition, e.Position)
	l.n++
	return nil
}

// failRender drops a half-rendered answer (b, grown from *bp) and sends err.
func failRender(w http.ResponseWriter, bp *[]byte, b []byte, err error) {
	*bp = b[:0]
	putBuf(bp)
	writeError(w, storeError(err))
}

// handleReadStream is GET /api/events/{streamId}[/{fromVersion}].
func (s *Server) handleReadStream(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	streamID := ps.ByName("streamId")
	if e := checkReadStreamID(streamID); e != nil {
		writeError(w, e)
		return
	}
	q, e := parseQuery(r)
	if e != nil {
		writeError(w, e)
		return
	}
	from, fromSet, e := q.uint("fromVersion")
	if e != nil {
		writeError(w, e)
		return
	}
	if p := ps.ByName("fromVersion"); p != "" {
		n, err := parseUint(p)
		if err != nil {
			writeError(w, badRequest("fromVersion "+quoteShort(p)+" in the path: want a non-negative integer"))
			return
		}
		if fromSet && n != from {
			writeError(w, badRequest("fromVersion given in the path and the query with different values"))
			return
		}
		from, fromSet = n, true
	}
	limit, e := q.limit()
	if e != nil {
		writeError(w, e)
		return
	}
	back, e := q.backward()
	if e != nil {
		writeError(w, e)
		return
	}
	upcast, e := q.boolean("upcast", true)
	if e != nil {
		writeError(w, e)
		return
	}
	var rd interface {
		ReadStreamFunc(string, uint64, engine.Direction, int, func(*engine.Event) error) (uint64, uint64, error)
	} = s.store
	if !upcast {
		rd = s.store.Stored()
	}
	// Events are rendered straight from the read buffers (ReadStreamFunc):
	// no copy, no slice of events.
	bp := startOK()
	b := append(*bp, `{"streamId":`...)
	b = appendString(b, streamID)
	b = append(b, `,"events":[`...)
	var next, lastVersion uint64
	if !(back && fromSet && from == 0) { // versions < 0: nothing
		dir := engine.Forward
		if back {
			dir = engine.Backward
		}
		l := eventList{b: b}
		var err error
		next, _, err = rd.ReadStreamFunc(streamID, from, dir, limit, l.add)
		if b = l.b; err != nil {
			failRender(w, bp, b, err)
			return
		}
		if l.n == 0 {
			next = 0
		}
		lastVersion = l.maxVersion
	}
	// After the read, so that currentVersion is at least every version shown.
	info, _ := s.store.Stream(streamID)
	cur := max(info.Version, lastVersion)
	b = append(b, `],"currentVersion":`...)
	b = appendUint(b, cur)
	if next != 0 {
		b = append(b, `,"nextFromVersion":`...)
		b = appendUint(b, next)
	}
	*bp = append(b, '}')
	sendOK(w, http.StatusOK, bp)
}

// handleAll is GET /api/all: the global log.
func (s *Server) handleAll(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
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
	limit, e := q.limit()
	if e != nil {
		writeError(w, e)
		return
	}
	back, e := q.backward()
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
	var rd interface {
		ReadAllFunc(uint64, engine.Direction, int, engine.Filter, func(*engine.Event) error) (uint64, uint64, error)
	} = s.store
	if !upcast {
		rd = s.store.Stored()
	}
	bp := startOK()
	b := append(*bp, `{"events":[`...)
	var next, head uint64
	if back && fromSet && from == 0 { // positions < 0: nothing
		head = s.store.Head()
	} else {
		dir := engine.Forward
		if back {
			dir = engine.Backward
		}
		l := eventList{b: b}
		var err error
		next, head, err = rd.ReadAllFunc(from, dir, limit, f, l.add)
		if b = l.b; err != nil {
			failRender(w, bp, b, err)
			return
		}
		head = max(head, l.maxPosition)
	}
	b = append(b, `],"headPosition":`...)
	b = appendUint(b, head)
	// Present whenever more may follow, even after a filtered page that
	// found nothing within its scan budget.
	if next != 0 {
		b = append(b, `,"nextFromPosition":`...)
		b = appendUint(b, next)
	}
	*bp = append(b, '}')
	sendOK(w, http.StatusOK, bp)
}

// filterFrom reads eventTypes, streamPrefix and excludeSystem.
func filterFrom(q query) (engine.Filter, *apiError) {
	var f engine.Filter
	var e *apiError
	if f.EventTypes, e = q.eventTypes(); e != nil {
		return f, e
	}
	if f.StreamPrefix, e = q.prefix("streamPrefix"); e != nil {
		return f, e
	}
	if f.ExcludeSystem, e = q.boolean("excludeSystem", false); e != nil {
		return f, e
	}
	return f, nil
}

func appendStreamInfo(b []byte, si *engine.StreamInfo) []byte {
	b = append(b, `{"streamId":`...)
	b = appendString(b, si.ID)
	b = append(b, `,"currentVersion":`...)
	b = appendUint(b, si.Version)
	b = append(b, `,"createdAt":`...)
	b = appendTime(b, si.CreatedAt)
	b = append(b, `,"updatedAt":`...)
	b = appendTime(b, si.UpdatedAt)
	return append(b, '}')
}

// handleListStreams is GET /api/streams?prefix=&limit=&cursor=.
func (s *Server) handleListStreams(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	q, e := parseQuery(r)
	if e != nil {
		writeError(w, e)
		return
	}
	prefix, e := q.prefix("prefix")
	if e != nil {
		writeError(w, e)
		return
	}
	limit, e := q.limit()
	if e != nil {
		writeError(w, e)
		return
	}
	after := ""
	if c, ok, e := q.get("cursor"); e != nil {
		writeError(w, e)
		return
	} else if ok && c != "" {
		raw, err := base64.RawURLEncoding.DecodeString(c)
		if err != nil || engine.ValidateStreamID(string(raw)) != nil {
			writeError(w, badRequest("query parameter cursor: not a cursor this server gave out"))
			return
		}
		after = string(raw)
	}
	list, more := s.store.ListStreams(prefix, after, limit)
	bp := startOK()
	b := append(*bp, `{"streams":[`...)
	for i := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendStreamInfo(b, &list[i])
	}
	b = append(b, ']')
	if more && len(list) > 0 {
		b = append(b, `,"nextCursor":"`...)
		b = base64.RawURLEncoding.AppendEncode(b, []byte(list[len(list)-1].ID))
		b = append(b, '"')
	}
	*bp = append(b, '}')
	sendOK(w, http.StatusOK, bp)
}

// handleGetStream is GET /api/streams/{streamId}.
func (s *Server) handleGetStream(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	id := ps.ByName("streamId")
	if e := checkReadStreamID(id); e != nil {
		writeError(w, e)
		return
	}
	info, ok := s.store.Stream(id)
	if !ok {
		writeError(w, errf(http.StatusNotFound, codeNotFound, "stream "+quoteShort(id)+" does not exist"))
		return
	}
	bp := startOK()
	*bp = appendStreamInfo(*bp, &info)
	sendOK(w, http.StatusOK, bp)
}

// appendEventHead is appendEvent up to and including "eventData": (SSE
// writes large payloads after it straight from the event).
func appendEventHead(b []byte, e *engine.Event) []byte {
	b = append(b, `{"eventId":`...)
	b = appendString(b, e.ID)
	b = append(b, `,"streamId":`...)
	b = appendString(b, e.StreamID)
	b = append(b, `,"version":`...)
	b = appendUint(b, e.Version)
	b = append(b, `,"position":`...)
	b = appendUint(b, e.Position)
	b = append(b, `,"eventType":`...)
	b = appendString(b, e.Type)
	b = append(b, `,"schemaVersion":`...)
	sv := uint64(e.SchemaVersion)
	if sv == 0 {
		sv = 1
	}
	b = appendUint(b, sv)
	return append(b, `,"eventData":`...)
}
