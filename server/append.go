package server

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/eventd/eventd/engine"
)

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
