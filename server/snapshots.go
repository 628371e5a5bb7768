package server

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/julienschmidt/httprouter"

	"github.com/eventd/eventd/engine/jsonv"
	"github.com/eventd/eventd/engine/reducer"
	"github.com/eventd/eventd/engine/snapshot"
)

// snapshotRoutes are the routes of aggregate snapshots (docs/api.md
// "POST /api/snapshots, GET /api/snapshots/{streamId}").
func (s *Server) snapshotRoutes() []route {
	return []route{
		{"POST", "/api/snapshots", RoleWrite, false, s.handleCreateSnapshot},
		{"GET", "/api/snapshots/:streamId", RoleRead, false, s.handleListSnapshots},
	}
}

type snapshotBody struct {
	StreamID *string         `json:"streamId"`
	Version  *uint64         `json:"version"`
	Data     json.RawMessage `json:"data"`
}

// handleCreateSnapshot is POST /api/snapshots: without data the state at
// version (default: current) computed with the stream's reducer; with data
// what the client sent, for a version that exists.
func (s *Server) handleCreateSnapshot(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	if s.cfg.Snapshots == nil {
		writeError(w, unavailable("snapshots"))
		return
	}
	bp, e := s.readBody(w, r)
	if e != nil {
		writeError(w, e)
		return
	}
	defer putBuf(bp)
	var body snapshotBody
	if e := decodeStrict(*bp, &body); e != nil {
		writeError(w, e)
		return
	}
	if body.StreamID == nil {
		writeError(w, badRequest("missing field \"streamId\""))
		return
	}
	stream := *body.StreamID
	if e := checkReadStreamID(stream); e != nil {
		writeError(w, e)
		return
	}
	var version uint64
	if body.Version != nil {
		if version = *body.Version; version == 0 {
			writeError(w, badRequest("version must be ≥ 1 (omit it for the current version)"))
			return
		}
	}
	var snap snapshot.Snapshot
	var err error
	if len(body.Data) > 0 && string(body.Data) != "null" {
		if body.Data[0] != '{' {
			writeError(w, wrongType("data", "a JSON object", body.Data))
			return
		}
		state, derr := jsonv.DecodeObject(body.Data)
		if derr != nil {
			writeError(w, errf(http.StatusBadRequest, codeInvalidJSON, "data: "+derr.Error()))
			return
		}
		if body.Version == nil {
			info, _ := s.store.Stream(stream)
			version = info.Version
		}
		snap, err = s.cfg.Snapshots.Put(r.Context(), stream, version, state)
	} else {
		snap, err = s.cfg.Snapshots.Take(r.Context(), stream, version)
	}
	if err != nil {
		writeError(w, snapshotError(stream, err))
		return
	}
	ob := startOK()
	*ob = appendSnapshot(*ob, &snap)
	sendOK(w, http.StatusCreated, ob)
}

// handleListSnapshots is GET /api/snapshots/{streamId}: every snapshot,
// highest version first, and the latest (highest version, newest among
// equals) with its data.
func (s *Server) handleListSnapshots(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	if s.cfg.Snapshots == nil {
		writeError(w, unavailable("snapshots"))
		return
	}
	stream := ps.ByName("streamId")
	if e := checkReadStreamID(stream); e != nil {
		writeError(w, e)
		return
	}
	list, err := s.cfg.Snapshots.List(stream)
	if err != nil {
		writeError(w, snapshotError(stream, err))
		return
	}
	latest, state, ok, err := s.cfg.Snapshots.Latest(stream)
	if err != nil {
		writeError(w, snapshotError(stream, err))
		return
	}
	ob := startOK()
	b := append(*ob, `{"streamId":`...)
	b = appendString(b, stream)
	b = append(b, `,"snapshots":[`...)
	for i := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendSnapshot(b, &list[i])
	}
	b = append(b, `],"latest":`...)
	if !ok {
		b = append(b, "null"...)
	} else {
		b = appendSnapshot(b, &latest)
		b = append(b[:len(b)-1], `,"data":`...)
		if b, err = reducer.EncodeState(b, state); err != nil {
			*ob = b[:0]
			putBuf(ob)
			writeError(w, errf(http.StatusInternalServerError, codeInternal, "encoding a snapshot: "+err.Error()))
			return
		}
		b = append(b, '}')
	}
	*ob = append(b, '}')
	sendOK(w, http.StatusOK, ob)
}

func snapshotError(stream string, err error) *apiError {
	switch {
	case errors.Is(err, snapshot.ErrUnknownStream):
		return errf(http.StatusNotFound, codeNotFound, "stream "+quoteShort(stream)+" does not exist")
	case errors.Is(err, snapshot.ErrNoVersion):
		return badRequest(trimPkg(err))
	case errors.Is(err, reducer.ErrApply):
		return badRequest("the stream's reducer cannot fold it: " + err.Error())
	case errors.Is(err, snapshot.ErrSchemasMoving):
		return errf(http.StatusServiceUnavailable, codeUnavailable, trimPkg(err))
	}
	return storeError(err)
}

// appendSnapshot renders a Snapshot (docs/api.md).
func appendSnapshot(b []byte, s *snapshot.Snapshot) []byte {
	b = append(b, `{"snapshotId":`...)
	b = appendString(b, s.ID)
	b = append(b, `,"streamId":`...)
	b = appendString(b, s.StreamID)
	b = append(b, `,"version":`...)
	b = appendUint(b, s.Version)
	b = append(b, `,"reducer":`...)
	b = appendString(b, s.Reducer)
	b = append(b, `,"reducerRevision":`...)
	b = appendString(b, s.ReducerRevision)
	b = append(b, `,"source":`...)
	b = appendString(b, s.Source)
	b = append(b, `,"createdAt":`...)
	b = appendTime(b, s.Created())
	b = append(b, `,"sizeBytes":`...)
	b = appendUint(b, uint64(s.SizeBytes))
	return append(b, '}')
}
