package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/julienschmidt/httprouter"

	"github.com/eventd/eventd/engine"
	"github.com/eventd/eventd/engine/projection"
)

// projectionRoutes are the routes of projections and queries (docs/api.md
// "GET /api/projections…", "GET /api/queries/{queryId}" and the Extension
// "POST /api/projections").
func (s *Server) projectionRoutes() []route {
	return []route{
		{"GET", "/api/projections", RoleRead, false, s.handleListProjections},
		{"POST", "/api/projections", RoleAdmin, false, s.handleCreateProjection},
		{"GET", "/api/projections/:projectionId", RoleRead, false, s.handleGetProjection},
		{"DELETE", "/api/projections/:projectionId", RoleAdmin, false, s.handleDeleteProjection},
		{"POST", "/api/projections/:projectionId/pause", RoleAdmin, false, s.projectionAction((*projection.Manager).Pause)},
		{"POST", "/api/projections/:projectionId/resume", RoleAdmin, false, s.projectionAction((*projection.Manager).Resume)},
		{"POST", "/api/projections/:projectionId/reset", RoleAdmin, false, s.projectionAction((*projection.Manager).Reset)},
		{"GET", "/api/queries/:queryId", RoleRead, false, s.handleQuery},
	}
}

// projections returns the manager, or answers 503 when there is none.
func (s *Server) projections(w http.ResponseWriter) *projection.Manager {
	if s.cfg.Projections == nil {
		writeError(w, errf(http.StatusServiceUnavailable, codeUnavailable, "projections are not available on this server"))
	}
	return s.cfg.Projections
}

// projectionError maps the errors of projection.Manager to answers.
func projectionError(err error) *apiError {
	switch {
	case errors.Is(err, projection.ErrNotFound), errors.Is(err, projection.ErrKeyNotFound):
		return errf(http.StatusNotFound, codeNotFound, trimPkg(err))
	case errors.Is(err, engine.ErrInvalidEventType):
		return errf(http.StatusBadRequest, codeInvalidEventType, trimPkg(err))
	case errors.Is(err, projection.ErrInvalid), errors.Is(err, projection.ErrSystem), errors.Is(err, projection.ErrFailed):
		return badRequest(trimPkg(err))
	case errors.Is(err, projection.ErrExists):
		return errf(http.StatusConflict, codeBadRequest, trimPkg(err)+": the same id may only be sent again with the same definition")
	case errors.Is(err, projection.ErrClosed):
		return errf(http.StatusServiceUnavailable, codeUnavailable, "projections are shutting down")
	}
	return storeError(err)
}

// projectionBody is the body of POST /api/projections.
type projectionBody struct {
	ProjectionID *string  `json:"projectionId"`
	Name         *string  `json:"name"`
	Kind         *string  `json:"kind"`
	EventTypes   []string `json:"eventTypes"`
	StreamPrefix *string  `json:"streamPrefix"`
	KeyBy        *string  `json:"keyBy"`
	Reducer      *string  `json:"reducer"`
	StartFrom    *string  `json:"startFrom"`
}

// definition turns the body into a definition; the manager checks it.
func (b *projectionBody) definition() (projection.Definition, *apiError) {
	var d projection.Definition
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	if b.ProjectionID != nil && *b.ProjectionID == "" {
		return d, badRequest("projectionId must not be empty (omit it for a server-made id)")
	}
	for _, f := range []struct {
		name string
		p    *string
	}{{"kind", b.Kind}, {"keyBy", b.KeyBy}, {"reducer", b.Reducer}, {"startFrom", b.StartFrom}} {
		if f.p != nil && *f.p == "" {
			return d, badRequest(f.name + " must not be empty (omit it for the default)")
		}
	}
	d.ID, d.Name, d.Kind = str(b.ProjectionID), str(b.Name), projection.Kind(str(b.Kind))
	d.EventTypes, d.StreamPrefix = b.EventTypes, str(b.StreamPrefix)
	d.KeyBy, d.Reducer, d.StartFrom = str(b.KeyBy), str(b.Reducer), str(b.StartFrom)
	return d, nil
}

// handleCreateProjection is POST /api/projections: 201 with the new
// projection; 200 with the existing one when the same id comes again with
// the same definition; 409 when it comes with another.
func (s *Server) handleCreateProjection(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	m := s.projections(w)
	if m == nil {
		return
	}
	bp, e := s.readBody(w, r)
	if e != nil {
		writeError(w, e)
		return
	}
	var body projectionBody
	e = decodeStrict(*bp, &body)
	putBuf(bp)
	if e != nil {
		writeError(w, e)
		return
	}
	if body.Name == nil || body.Kind == nil {
		writeError(w, badRequest("name and kind are required"))
		return
	}
	def, e := body.definition()
	if e != nil {
		writeError(w, e)
		return
	}
	info, created, err := m.Create(r.Context(), def)
	if err != nil {
		writeError(w, projectionError(err))
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	ob := startOK()
	*ob = appendProjection(*ob, &info, false)
	sendOK(w, status, ob)
}

// handleListProjections is GET /api/projections.
func (s *Server) handleListProjections(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	m := s.projections(w)
	if m == nil {
		return
	}
	list, err := m.List()
	if err != nil {
		writeError(w, projectionError(err))
		return
	}
	bp := startOK()
	b := append(*bp, `{"projections":[`...)
	for i := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendProjection(b, &list[i], false)
	}
	*bp = append(b, "]}"...)
	sendOK(w, http.StatusOK, bp)
}

// handleGetProjection is GET /api/projections/{projectionId}: the
// projection with its state (count) or entry count (keyed kinds).
func (s *Server) handleGetProjection(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	m := s.projections(w)
	if m == nil {
		return
	}
	info, err := m.Get(ps.ByName("projectionId"))
	if err != nil {
		writeError(w, projectionError(err))
		return
	}
	bp := startOK()
	*bp = appendProjection(*bp, &info, true)
	sendOK(w, http.StatusOK, bp)
}

// checkEmptyBody accepts no body or an empty JSON object (the action
// routes take no fields).
func (s *Server) checkEmptyBody(w http.ResponseWriter, r *http.Request) *apiError {
	bp, e := s.readBody(w, r)
	if e != nil {
		return e
	}
	defer putBuf(bp)
	if skipWS(*bp, 0) == len(*bp) {
		return nil
	}
	var none struct{}
	return decodeStrict(*bp, &none)
}

// projectionAction makes the handler of POST
// /api/projections/{projectionId}/pause|resume|reset: 200 with the
// projection.
func (s *Server) projectionAction(act func(*projection.Manager, context.Context, string) (projection.Info, error)) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
		m := s.projections(w)
		if m == nil {
			return
		}
		if e := s.checkEmptyBody(w, r); e != nil {
			writeError(w, e)
			return
		}
		info, err := act(m, r.Context(), ps.ByName("projectionId"))
		if err != nil {
			writeError(w, projectionError(err))
			return
		}
		bp := startOK()
		*bp = appendProjection(*bp, &info, false)
		sendOK(w, http.StatusOK, bp)
	}
}

// handleDeleteProjection is DELETE /api/projections/{projectionId}: 200
// with {"id", "deleted": true}.
func (s *Server) handleDeleteProjection(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	m := s.projections(w)
	if m == nil {
		return
	}
	if e := s.checkEmptyBody(w, r); e != nil {
		writeError(w, e)
		return
	}
	id := ps.ByName("projectionId")
	if err := m.Delete(r.Context(), id); err != nil {
		writeError(w, projectionError(err))
		return
	}
	bp := startOK()
	b := append(*bp, `{"id":`...)
	b = appendString(b, id)
	*bp = append(b, `,"deleted":true}`...)
	sendOK(w, http.StatusOK, bp)
}

// appendProjection renders a projection; detail adds "state" (count) or
// "keys" (state and system kinds).
func appendProjection(b []byte, in *projection.Info, detail bool) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, in.ID)
	b = append(b, `,"name":`...)
	b = appendString(b, in.Name)
	b = append(b, `,"kind":`...)
	b = appendString(b, string(in.Kind))
	b = append(b, `,"eventTypes":`...)
	if in.EventTypes == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, t := range in.EventTypes {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, t)
		}
		b = append(b, ']')
	}
	b = appendOptString(append(b, `,"streamPrefix":`...), in.StreamPrefix)
	b = appendOptString(append(b, `,"keyBy":`...), in.KeyBy)
	b = appendOptString(append(b, `,"reducer":`...), in.Reducer)
	b = appendOptString(append(b, `,"startFrom":`...), in.StartFrom)
	b = append(b, `,"status":`...)
	b = appendString(b, string(in.Status))
	b = append(b, `,"lastProcessedPosition":`...)
	b = appendUint(b, in.LastProcessed)
	b = append(b, `,"headPosition":`...)
	b = appendUint(b, in.Head)
	b = append(b, `,"lag":`...)
	b = appendUint(b, in.Lag)
	b = append(b, `,"eventsProcessed":`...)
	b = appendUint(b, in.EventsProcessed)
	b = appendOptString(append(b, `,"error":`...), in.Error)
	b = append(b, `,"createdAt":`...)
	b = appendTime(b, in.CreatedAt)
	b = append(b, `,"updatedAt":`...)
	b = appendTime(b, in.UpdatedAt)
	if detail {
		if in.Kind == projection.KindCount {
			b = append(b, `,"state":`...)
			b = append(b, in.State...)
		} else {
			b = append(b, `,"keys":`...)
			b = appendUint(b, in.Keys)
		}
	}
	return append(b, '}')
}

// appendOptString appends s, or null when it is empty.
func appendOptString(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return appendString(b, s)
}
