package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/julienschmidt/httprouter"

	"eventd/engine"
)

// replayPage is how many events a replay reads from the store at a time.
const replayPage = maxLimit

// handleReplay is POST /api/events/{streamId}/replay: the state at
// toVersion, folded with the default reducer (no snapshots yet, so
// snapshotVersion is always null).
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
	defer putBuf(bp)
	var from, to uint64
	toSet, include := false, true
	if body := *bp; skipWS(body, 0) < len(body) { // only JSON whitespace counts as empty
		if e := checkBody(body); e != nil {
			writeError(w, e)
			return
		}
		seen := map[string]bool{}
		err := eachField(body, func(key, val []byte) error {
			k := string(key)
			if seen[k] {
				return duplicateField(k)
			}
			seen[k] = true
			switch k {
			case "fromVersion", "toVersion":
				if isNull(val) {
					return nil
				}
				n, ok := rawInt(val)
				if !ok || n < 0 {
					return badRequest(k + " must be an integer ≥ 0, got " + quoteShort(string(val)))
				}
				if k == "fromVersion" {
					from = uint64(n)
				} else {
					to, toSet = uint64(n), true
				}
			case "useSnapshot", "includeEvents":
				if isNull(val) {
					return nil
				}
				v, ok := rawBool(val)
				if !ok {
					return wrongType(k, "true or false", val)
				}
				if k == "includeEvents" {
					include = v
				}
			case "reducer":
				if isNull(val) {
					return nil
				}
				name, ok := rawString(val)
				if !ok {
					return wrongType(k, "a string", val)
				}
				if name != defaultReducerName {
					return badRequest("unknown reducer " + quoteShort(name) + ": only \"default\" exists")
				}
			default:
				return unknownField("", key)
			}
			return nil
		})
		if err != nil {
			writeError(w, err.(*apiError))
			return
		}
	}
	info, ok := s.store.Stream(streamID)
	if !ok || info.Version == 0 {
		writeError(w, errf(http.StatusNotFound, codeNotFound, "stream "+quoteShort(streamID)+" does not exist"))
		return
	}
	if !toSet {
		to = info.Version
	}
	if to > info.Version {
		writeError(w, badRequest("toVersion "+strconv.FormatUint(to, 10)+" is above the stream's current version "+strconv.FormatUint(info.Version, 10)))
		return
	}
	if to < from {
		writeError(w, badRequest("toVersion "+strconv.FormatUint(to, 10)+" is below fromVersion "+strconv.FormatUint(from, 10)))
		return
	}

	var state map[string]any
	ob := startOK()
	b := append(*ob, `{"streamId":`...)
	b = appendString(b, streamID)
	if include {
		b = append(b, `,"events":[`...)
	}
	first := true
	var applied uint64
fold:
	for v := uint64(0); v < to; {
		page, err := s.store.ReadStream(streamID, v, engine.Forward, int(min(to-v, replayPage)))
		if err != nil {
			*ob = b
			putBuf(ob)
			writeError(w, storeError(err))
			return
		}
		if len(page.Events) == 0 {
			break
		}
		for i := range page.Events {
			e := &page.Events[i]
			if e.Version > to || e.Version <= v {
				break fold
			}
			if state, err = applyDefault(state, e); err != nil {
				*ob = b
				putBuf(ob)
				writeError(w, errf(http.StatusInternalServerError, codeInternal, "stored eventData of version "+strconv.FormatUint(e.Version, 10)+" is not a JSON object: "+err.Error()))
				return
			}
			applied++
			if include && e.Version > from {
				if !first {
					b = append(b, ',')
				}
				first = false
				b = appendEvent(b, e)
			}
			v = e.Version
		}
	}
	if include {
		b = append(b, ']')
	}
	if state == nil {
		state = map[string]any{}
	}
	b = append(b, `,"finalState":`...)
	var sb bytes.Buffer
	enc := json.NewEncoder(&sb)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(state); err != nil {
		*ob = b
		putBuf(ob)
		writeError(w, errf(http.StatusInternalServerError, codeInternal, "encoding the state: "+err.Error()))
		return
	}
	b = append(b, bytes.TrimRight(sb.Bytes(), "\n")...)
	b = append(b, `,"fromVersion":`...)
	b = appendUint(b, from)
	b = append(b, `,"toVersion":`...)
	b = appendUint(b, to)
	b = append(b, `,"snapshotVersion":null,"eventsApplied":`...)
	b = appendUint(b, applied)
	*ob = append(b, '}')
	sendOK(w, http.StatusOK, ob)
}
