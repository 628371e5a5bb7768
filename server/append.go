package server

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/eventd/eventd/engine"
)

// bodyChunk is the most readBody allocates ahead of the bytes it has.
const bodyChunk = 64 << 10

// readBody reads the request body into a pooled buffer (release it with
// putBuf once nothing refers to it), enforcing --max-body. A body that does
// not arrive within Config.BodyTimeout is 408; a Content-Encoding other
// than identity is 415 (bodies are not decompressed).
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) (*[]byte, *apiError) {
	if ce, ok := r.Header["Content-Encoding"]; ok {
		if e := checkContentEncoding(w, ce); e != nil {
			return nil, e
		}
	}
	max := s.cfg.MaxBody
	// A body must arrive within BodyTimeout: a stalled upload does not hold
	// its connection and buffer for ever. (Per request, not a server-wide
	// ReadTimeout, which would also end idle SSE streams.)
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.cfg.BodyTimeout))
	defer http.NewResponseController(w).SetReadDeadline(time.Time{})
	if r.ContentLength > max {
		return nil, errf(http.StatusRequestEntityTooLarge, codeTooLarge, "request body of "+strconv.FormatInt(r.ContentLength, 10)+" bytes is larger than the limit of "+strconv.FormatInt(max, 10))
	}
	bp := getBuf()
	b := (*bp)[:0]
	// A declared length is trusted for the allocation only up to
	// bodyChunk: a client that declares 4 MiB and then stalls must not pin
	// 4 MiB per connection. Past that the buffer grows as bytes arrive.
	if r.ContentLength >= 0 && r.ContentLength <= bodyChunk {
		if int64(cap(b)) < r.ContentLength {
			b = make([]byte, 0, r.ContentLength)
		}
		b = b[:r.ContentLength]
		if _, err := io.ReadFull(r.Body, b); err != nil {
			*bp = b[:0]
			putBuf(bp)
			return nil, s.bodyReadError(w, err)
		}
		*bp = b
		return bp, nil
	}
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Body.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if int64(len(b)) > max {
			*bp = b[:0]
			putBuf(bp)
			return nil, errf(http.StatusRequestEntityTooLarge, codeTooLarge, "request body is larger than the limit of "+strconv.FormatInt(max, 10)+" bytes")
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			*bp = b[:0]
			putBuf(bp)
			return nil, s.bodyReadError(w, err)
		}
	}
	*bp = b
	return bp, nil
}

// bodyReadError answers a failed body read: 408 (and the connection is
// closed) when the body did not arrive in time, else 400. The message
// never carries the connection's addresses (a *net.OpError names both
// sockets).
func (s *Server) bodyReadError(w http.ResponseWriter, err error) *apiError {
	var ne net.Error
	if errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		w.Header().Set("Connection", "close")
		return errf(http.StatusRequestTimeout, codeBadRequest, "the request body did not arrive within "+s.cfg.BodyTimeout.String())
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		err = op.Err
	}
	return badRequest("reading the request body: " + err.Error())
}

// checkContentEncoding refuses a body the server would have to decode:
// any Content-Encoding but identity is 415, with Accept-Encoding: identity
// (RFC 7694).
func checkContentEncoding(w http.ResponseWriter, values []string) *apiError {
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			if p := strings.TrimSpace(part); p != "" && !strings.EqualFold(p, "identity") {
				w.Header().Set("Accept-Encoding", "identity")
				return errf(http.StatusUnsupportedMediaType, codeBadRequest, "Content-Encoding "+quoteShort(p)+" is not supported: send the body uncompressed")
			}
		}
	}
	return nil
}

// readObject reads the request body (readBody) and checks that it is a
// JSON object (checkBody); release the buffer with putBuf.
func (s *Server) readObject(w http.ResponseWriter, r *http.Request) (*[]byte, *apiError) {
	bp, e := s.readBody(w, r)
	if e != nil {
		return nil, e
	}
	if e := checkBody(*bp); e != nil {
		putBuf(bp)
		return nil, e
	}
	return bp, nil
}

// checkBody validates a JSON request body that must be an object.
func checkBody(b []byte) *apiError {
	if err := checkJSON(b); err != nil {
		return errf(http.StatusBadRequest, codeInvalidJSON, "invalid JSON: "+err.Error())
	}
	if b[skipWS(b, 0)] != '{' {
		return badRequest("the request body must be a JSON object")
	}
	return nil
}

// unknownField refuses a field name the body does not take; a name written
// with escapes is refused as such (it may spell a field it only looks
// unlike: "exp\u0065ctedVersion"), as decodeStrict does.
func unknownField(where string, key []byte) *apiError {
	if bytes.IndexByte(key, '\\') >= 0 {
		return badRequest("field name " + strconv.Quote(keyString(key)) + where + " is written with escapes: field names must be written without escapes")
	}
	return badRequest("unknown field " + strconv.Quote(keyString(key)) + where)
}

func duplicateField(key string) *apiError {
	return badRequest("field " + strconv.Quote(key) + " given more than once")
}

func wrongType(field, want string, val []byte) *apiError {
	return badRequest(field + " must be " + want + ", got " + jsonKind(val))
}

// expected is a parsed expectedVersion: the engine's value and the bytes the
// client sent (echoed in a conflict's details).
type expected struct {
	v   engine.ExpectedVersion
	raw []byte
}

// parseExpected reads expectedVersion (docs/api.md "Expected version").
func parseExpected(val []byte) (expected, *apiError) {
	if isNull(val) {
		return expected{v: engine.Any}, nil
	}
	if val[0] == '"' {
		s, _ := rawString(val)
		switch s {
		case "any":
			return expected{engine.Any, val}, nil
		case "no_stream":
			return expected{engine.NoStream, val}, nil
		case "exists":
			return expected{engine.StreamExists, val}, nil
		}
		return expected{}, badRequest("expectedVersion " + quoteShort(s) + ": want a version ≥ 0, -1, -2, -4, \"any\", \"no_stream\" or \"exists\"")
	}
	n, ok := rawInt(val)
	if !ok {
		return expected{}, badRequest("expectedVersion must be an integer or one of \"any\", \"no_stream\", \"exists\", got " + jsonKind(val) + " " + quoteShort(string(val)))
	}
	switch {
	case n == -2:
		return expected{engine.Any, val}, nil
	case n == -1 || n == 0:
		return expected{engine.NoStream, val}, nil
	case n == -4:
		return expected{engine.StreamExists, val}, nil
	case n >= 1:
		return expected{engine.ExpectedVersion(n), val}, nil
	}
	return expected{}, badRequest("expectedVersion " + string(val) + ": want a version ≥ 0, -1, -2, -4, \"any\", \"no_stream\" or \"exists\"")
}

// Field bits for duplicate detection.
const (
	fStreamID = 1 << iota
	fEventType
	fEventData
	fMetadata
	fEventID
	fExpected
	fSchemaVersion
	fEvents
)

// eventFields parses the fields of one event into p. single: the body of
// POST /api/events, which also has streamId and expectedVersion (returned).
// idx is the event's index in a batch (-1: single), named in messages.
func (s *Server) eventFields(obj []byte, p *engine.Proposed, single bool, idx int) (streamID string, exp expected, e *apiError) {
	exp.v = engine.Any
	var seen int
	var typeSet, dataSet bool
	err := eachField(obj, func(key, val []byte) error {
		var bit int
		switch string(key) {
		case "eventType":
			bit = fEventType
			str, ok := rawString(val)
			if !ok {
				return wrongType("eventType"+whereOf(idx), "a string", val)
			}
			if e := checkEventType(str); e != nil {
				e.msg = atEvent(idx) + e.msg
				return e
			}
			p.Type, typeSet = str, true
		case "eventData":
			bit = fEventData
			if val[0] != '{' {
				return wrongType("eventData"+whereOf(idx), "a JSON object", val)
			}
			p.Data, dataSet = val, true
		case "metadata":
			bit = fMetadata
			if isNull(val) {
				break
			}
			if val[0] != '{' {
				return wrongType("metadata"+whereOf(idx), "a JSON object", val)
			}
			p.Metadata = val
		case "eventId":
			bit = fEventID
			if isNull(val) {
				break
			}
			str, ok := rawString(val)
			if !ok {
				return wrongType("eventId"+whereOf(idx), "a string", val)
			}
			if err := engine.ValidateEventID(str); err != nil {
				return badRequest(atEvent(idx) + err.Error())
			}
			p.ID = str
		case "schemaVersion":
			bit = fSchemaVersion
			if isNull(val) {
				break
			}
			n, ok := rawInt(val)
			if !ok || n < 1 || n > 1<<31 {
				return badRequest("schemaVersion" + whereOf(idx) + " must be an integer ≥ 1, got " + quoteShort(string(val)))
			}
			p.SchemaVersion = uint32(n)
		case "streamId":
			if !single {
				return unknownField(whereOf(idx), key)
			}
			bit = fStreamID
			str, ok := rawString(val)
			if !ok {
				return wrongType("streamId", "a string", val)
			}
			if e := checkWriteStreamID(str); e != nil {
				return e
			}
			streamID = str
		case "expectedVersion":
			if !single {
				return unknownField(whereOf(idx), key)
			}
			bit = fExpected
			var e *apiError
			if exp, e = parseExpected(val); e != nil {
				return e
			}
		default:
			return unknownField(whereOf(idx), key)
		}
		if seen&bit != 0 {
			return duplicateField(string(key))
		}
		seen |= bit
		return nil
	})
	if err != nil {
		return "", exp, err.(*apiError)
	}
	if single && seen&fStreamID == 0 {
		return "", exp, badRequest("missing field \"streamId\"")
	}
	if !typeSet {
		return "", exp, badRequest("missing field \"eventType\"" + whereOf(idx))
	}
	if !dataSet {
		return "", exp, badRequest("missing field \"eventData\"" + whereOf(idx))
	}
	if err := engine.CheckEventSize(len(p.Data)+len(p.Metadata), s.cfg.MaxEventSize); err != nil {
		e := storeError(err)
		e.msg = atEvent(idx) + e.msg
		return "", exp, e
	}
	return streamID, exp, nil
}

// atEvent prefixes a message about batch event idx: "events[3]: " ("" for -1).
func atEvent(idx int) string {
	if idx < 0 {
		return ""
	}
	return "events[" + strconv.Itoa(idx) + "]: "
}

// whereOf names batch event idx in messages: " in events[3]" ("" for -1).
func whereOf(idx int) string {
	if idx < 0 {
		return ""
	}
	return " in events[" + strconv.Itoa(idx) + "]"
}

// parseBatch reads the body of POST /api/streams/{id}/events (already
// checked by checkBody): the expected version and the events, whose ids,
// types, data and metadata alias body.
func (s *Server) parseBatch(body []byte) (exp expected, props []engine.Proposed, e *apiError) {
	exp = expected{v: engine.Any}
	var events []byte
	var seen int
	err := eachField(body, func(key, val []byte) error {
		var bit int
		switch string(key) {
		case "expectedVersion":
			bit = fExpected
			var e *apiError
			if exp, e = parseExpected(val); e != nil {
				return e
			}
		case "events":
			bit = fEvents
			if val[0] != '[' {
				return wrongType("events", "an array", val)
			}
			events = val
		default:
			return unknownField("", key)
		}
		if seen&bit != 0 {
			return duplicateField(string(key))
		}
		seen |= bit
		return nil
	})
	if err != nil {
		return exp, nil, err.(*apiError)
	}
	if events == nil {
		return exp, nil, badRequest("missing field \"events\"")
	}
	props = make([]engine.Proposed, 0, 16)
	var ids map[string]struct{}
	err = eachElement(events, func(i int, val []byte) error {
		if i == engine.MaxAppendEvents {
			return badRequest("events must hold 1 to " + strconv.Itoa(engine.MaxAppendEvents) + " events, got more")
		}
		if val[0] != '{' {
			return wrongType("events["+strconv.Itoa(i)+"]", "a JSON object", val)
		}
		props = append(props, engine.Proposed{})
		if _, _, e := s.eventFields(val, &props[i], false, i); e != nil {
			return e
		}
		if id := props[i].ID; id != "" {
			if ids == nil {
				ids = make(map[string]struct{})
			}
			if _, dup := ids[id]; dup {
				return badRequest("eventId " + quoteShort(id) + " appears more than once in the batch")
			}
			ids[id] = struct{}{}
		}
		return nil
	})
	if err != nil {
		return exp, nil, err.(*apiError)
	}
	if len(props) == 0 {
		return exp, nil, badRequest("events must hold 1 to " + strconv.Itoa(engine.MaxAppendEvents) + " events, got 0")
	}
	return exp, props, nil
}

// handleAppend is POST /api/events: append one event.
func (s *Server) handleAppend(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	start := time.Now()
	bp, e := s.readObject(w, r)
	if e != nil {
		writeError(w, e)
		return
	}
	defer putBuf(bp) // Append keeps no reference to the body once it returns
	body := *bp
	var ev [1]engine.Proposed
	streamID, exp, e := s.eventFields(body, &ev[0], true, -1)
	if e != nil {
		writeError(w, e)
		return
	}
	res, err := s.store.Append(r.Context(), streamID, exp.v, ev[:])
	if err != nil {
		writeAppendError(w, err, exp)
		return
	}
	s.metrics.observeAppend(time.Since(start))

	ob := getBuf()
	b := append((*ob)[:0], okPrefix...)
	b = append(b, `{"eventId":`...)
	var a engine.Appended
	if len(res.Events) > 0 {
		a = res.Events[0]
	}
	b = appendString(b, a.ID)
	b = append(b, `,"streamId":`...)
	b = appendPlain(b, res.StreamID)
	b = append(b, `,"version":`...)
	b = appendUint(b, a.Version)
	b = append(b, `,"eventType":`...)
	b = appendPlain(b, a.Type)
	b = append(b, `,"timestamp":`...)
	b = appendTime(b, res.Timestamp)
	b = append(b, `,"position":`...)
	b = appendUint(b, a.Position)
	sendAppended(w, ob, b, res.Duplicate)
}

// sendAppended finishes and sends an append's answer rendered into b (grown
// from *ob): 201, or 200 with "duplicate": true for a retried append.
func sendAppended(w http.ResponseWriter, ob *[]byte, b []byte, duplicate bool) {
	status := http.StatusCreated
	if duplicate {
		b = append(b, `,"duplicate":true`...)
		status = http.StatusOK
	}
	b = append(b, '}')
	b = append(b, okSuffix...)
	writeRaw(w, status, b)
	*ob = b
	putBuf(ob)
}

func writeAppendError(w http.ResponseWriter, err error, exp expected) {
	ae := storeError(err)
	var wev *engine.WrongExpectedVersionError
	if errors.As(err, &wev) {
		raw := exp.raw
		if raw == nil {
			raw = []byte(strconv.FormatInt(int64(wev.Expected), 10))
		}
		d := append([]byte(`{"expectedVersion":`), raw...)
		d = append(d, `,"currentVersion":`...)
		d = appendUint(d, wev.Current)
		d = append(d, '}')
		ae.details = d
		ae.msg = "wrong expected version: expected " + string(raw) + ", current version is " + strconv.FormatUint(wev.Current, 10)
	}
	writeError(w, ae)
}

// handleBatch is POST /api/streams/{streamId}/events: an atomic batch.
func (s *Server) handleBatch(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	start := time.Now()
	streamID := ps.ByName("streamId")
	if e := checkWriteStreamID(streamID); e != nil {
		writeError(w, e)
		return
	}
	bp, e := s.readObject(w, r)
	if e != nil {
		writeError(w, e)
		return
	}
	defer putBuf(bp) // Append keeps no reference to the body once it returns
	body := *bp
	exp, props, e := s.parseBatch(body)
	if e != nil {
		writeError(w, e)
		return
	}
	res, aerr := s.store.Append(r.Context(), streamID, exp.v, props)
	if aerr != nil {
		writeAppendError(w, aerr, exp)
		return
	}
	s.metrics.observeAppend(time.Since(start))

	ob := getBuf()
	b := append((*ob)[:0], okPrefix...)
	b = append(b, `{"streamId":`...)
	b = appendPlain(b, res.StreamID)
	b = append(b, `,"firstVersion":`...)
	b = appendUint(b, res.FirstVersion)
	b = append(b, `,"lastVersion":`...)
	b = appendUint(b, res.LastVersion)
	b = append(b, `,"firstPosition":`...)
	b = appendUint(b, res.FirstPosition)
	b = append(b, `,"lastPosition":`...)
	b = appendUint(b, res.LastPosition)
	b = append(b, `,"timestamp":`...)
	b = appendTime(b, res.Timestamp)
	b = append(b, `,"events":[`...)
	for i, a := range res.Events {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"eventId":`...)
		b = appendString(b, a.ID)
		b = append(b, `,"version":`...)
		b = appendUint(b, a.Version)
		b = append(b, `,"position":`...)
		b = appendUint(b, a.Position)
		b = append(b, '}')
	}
	b = append(b, ']')
	sendAppended(w, ob, b, res.Duplicate)
}
