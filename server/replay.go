package server

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/julienschmidt/httprouter"

	"github.com/eventd/eventd/engine"
	"github.com/eventd/eventd/engine/reducer"
	"github.com/eventd/eventd/engine/snapshot"
)

// replayRequest is the parsed body of POST /api/events/{streamId}/replay.
type replayRequest struct {
	from, to    uint64
	toSet       bool
	include     bool
	useSnapshot bool
	reducer     string // "": the stream's own
}

// parseReplay reads the replay body: every field optional, null = absent,
// an empty (JSON whitespace only) body = all defaults.
func parseReplay(body []byte) (replayRequest, *apiError) {
	req := replayRequest{include: true, useSnapshot: true}
	if skipWS(body, 0) == len(body) {
		return req, nil
	}
	if e := checkBody(body); e != nil {
		return req, e
	}
	seen := map[string]bool{}
	err := eachField(body, func(key, val []byte) error {
		k := string(key)
		if seen[k] {
			return duplicateField(k)
		}
		seen[k] = true
		if isNull(val) {
			switch k {
			case "fromVersion", "toVersion", "useSnapshot", "includeEvents", "reducer":
				return nil
			}
			return unknownField("", key)
		}
		switch k {
		case "fromVersion", "toVersion":
			n, ok := rawInt(val)
			if !ok || n < 0 {
				return badRequest(k + " must be an integer ≥ 0, got " + quoteShort(string(val)))
			}
			if k == "fromVersion" {
				req.from = uint64(n)
			} else {
				req.to, req.toSet = uint64(n), true
			}
		case "useSnapshot", "includeEvents":
			v, ok := rawBool(val)
			if !ok {
				return wrongType(k, "true or false", val)
			}
			if k == "includeEvents" {
				req.include = v
			} else {
				req.useSnapshot = v
			}
		case "reducer":
			name, ok := rawString(val)
			if !ok {
				return wrongType(k, "a string", val)
			}
			if name == "" {
				return badRequest("reducer must name a reducer (omit it for the stream's own)")
			}
			req.reducer = name
		default:
			return unknownField("", key)
		}
		return nil
	})
	if err != nil {
		return req, err.(*apiError)
	}
	return req, nil
}

// handleReplay is POST /api/events/{streamId}/replay: the state at
// toVersion, folded by engine/reducer (no snapshots yet, so
// snapshotVersion is always null), with the events of (fromVersion,
// toVersion] unless includeEvents is false.
func (s *Server) handleReplay(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	streamID := ps.ByName("streamId")
	if e := checkReadStreamID(streamID); e != nil {
		writeError(w, e)
		return
	}
	bp, e := s.readBody(w, r)
	if e != nil {
		writeError(w, e)
		return
	}
	req, e := parseReplay(*bp)
	putBuf(bp)
	if e != nil {
		writeError(w, e)
		return
	}
	red := s.reducers.ForStream(streamID)
	if req.reducer != "" {
		var ok bool
		if red, ok = s.reducers.Lookup(req.reducer); !ok {
			writeError(w, badRequest("unknown reducer "+quoteShort(req.reducer)))
			return
		}
	}
	info, ok := s.store.Stream(streamID)
	if !ok || info.Version == 0 {
		writeError(w, errf(http.StatusNotFound, codeNotFound, "stream "+quoteShort(streamID)+" does not exist"))
		return
	}
	if !req.toSet {
		req.to = info.Version
	}
	if req.to > info.Version {
		writeError(w, badRequest("toVersion "+strconv.FormatUint(req.to, 10)+" is above the stream's current version "+strconv.FormatUint(info.Version, 10)))
		return
	}
	if req.to < req.from {
		writeError(w, badRequest("toVersion "+strconv.FormatUint(req.to, 10)+" is below fromVersion "+strconv.FormatUint(req.from, 10)))
		return
	}

	// Folded events are rendered as the fold goes (tail); events between
	// fromVersion and a snapshot the fold started from are read after it
	// (prefix) and come first.
	var each func(*engine.Event) error
	tbp := getBuf()
	defer putBuf(tbp)
	tail := eventList{b: (*tbp)[:0]}
	if req.include {
		each = func(e *engine.Event) error {
			if e.Version > req.from {
				return tail.add(e)
			}
			return nil
		}
	}
	var res replayResult
	var err error
	if s.cfg.Snapshots != nil {
		var sr snapshot.Result
		sr, err = s.cfg.Snapshots.Replay(r.Context(), streamID, req.to, red, req.useSnapshot, each)
		res = replayResult{state: sr.State, snapshotVersion: sr.SnapshotVersion, applied: sr.Applied}
	} else {
		var rr reducer.Result
		rr, err = reducer.Replay(s.store, streamID, nil, 0, req.to, red, each)
		res = replayResult{state: rr.State, applied: rr.Applied}
	}
	ob := startOK()
	b := append(*ob, `{"streamId":`...)
	b = appendString(b, streamID)
	if req.include && err == nil {
		b = append(b, `,"events":[`...)
		if req.from < res.snapshotVersion {
			l := eventList{b: b}
			_, _, err = s.store.ReadStreamFunc(streamID, req.from, engine.Forward, int(res.snapshotVersion-req.from), l.add)
			if b = l.b; l.n > 0 && tail.n > 0 {
				b = append(b, ',')
			}
		}
		b = append(append(b, tail.b...), ']')
	}
	*tbp = tail.b[:0]
	s.finishReplay(w, ob, b, req, res, err)
}

// replayResult is what a replay answer reports.
type replayResult struct {
	state           reducer.State
	snapshotVersion uint64 // 0: none
	applied         uint64
}

// finishReplay renders the rest of a replay answer into b (grown from *ob)
// and sends it, or sends err.
func (s *Server) finishReplay(w http.ResponseWriter, ob *[]byte, b []byte, req replayRequest, res replayResult, err error) {
	if err != nil {
		if errors.Is(err, reducer.ErrApply) {
			*ob = b[:0]
			putBuf(ob)
			writeError(w, badRequest("the reducer cannot replay this stream: "+err.Error()))
			return
		}
		failRender(w, ob, b, err)
		return
	}
	b = append(b, `,"finalState":`...)
	if b, err = reducer.EncodeState(b, res.state); err != nil {
		*ob = b[:0]
		putBuf(ob)
		writeError(w, errf(http.StatusInternalServerError, codeInternal, "encoding the state: "+err.Error()))
		return
	}
	b = append(b, `,"fromVersion":`...)
	b = appendUint(b, req.from)
	b = append(b, `,"toVersion":`...)
	b = appendUint(b, req.to)
	b = append(b, `,"snapshotVersion":`...)
	if res.snapshotVersion == 0 {
		b = append(b, "null"...)
	} else {
		b = appendUint(b, res.snapshotVersion)
	}
	b = append(b, `,"eventsApplied":`...)
	b = appendUint(b, res.applied)
	*ob = append(b, '}')
	sendOK(w, http.StatusOK, ob)
}
