package server

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/julienschmidt/httprouter"

	"github.com/eventd/eventd/engine"
	"github.com/eventd/eventd/engine/schema"
)

// schemaRoutes are the routes of event versioning (docs/api.md "Event
// versioning").
func (s *Server) schemaRoutes() []route {
	return []route{
		{"PUT", "/api/schemas/:eventType", RoleAdmin, false, s.handlePutSchema},
		{"GET", "/api/schemas", RoleRead, false, s.handleListSchemas},
		{"GET", "/api/schemas/:eventType", RoleRead, false, s.handleGetSchema},
	}
}

// schemaBody is the body of PUT /api/schemas/{eventType}.
type schemaBody struct {
	CurrentVersion *uint32         `json:"currentVersion"`
	Upcasters      []schemaStep    `json:"upcasters"`
	JSONSchema     json.RawMessage `json:"jsonSchema"`
}

type schemaStep struct {
	From uint32     `json:"from"`
	To   uint32     `json:"to"`
	Ops  []schemaOp `json:"ops"`
}

// schemaOp mirrors schema.Op with the strict decoder's kinds: from and to
// are a path or a list of paths, value/values/default any JSON.
type schemaOp struct {
	Op        string                     `json:"op"`
	Path      string                     `json:"path"`
	From      json.RawMessage            `json:"from"`
	To        json.RawMessage            `json:"to"`
	Value     json.RawMessage            `json:"value"`
	Values    map[string]json.RawMessage `json:"values"`
	Default   json.RawMessage            `json:"default"`
	Separator *string                    `json:"separator"`
	Keep      bool                       `json:"keep"`
}

// handlePutSchema is PUT /api/schemas/{eventType}: 201 for a new type, 200
// for a replaced (or unchanged) one.
func (s *Server) handlePutSchema(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	if s.cfg.Schemas == nil {
		writeError(w, unavailable("schemas"))
		return
	}
	typ := ps.ByName("eventType")
	if e := checkEventType(typ); e != nil {
		writeError(w, e)
		return
	}
	bp, e := s.readBody(w, r)
	if e != nil {
		writeError(w, e)
		return
	}
	defer putBuf(bp)
	var body schemaBody
	if e := decodeStrict(*bp, &body); e != nil {
		writeError(w, e)
		return
	}
	if body.CurrentVersion == nil {
		writeError(w, badRequest("missing field \"currentVersion\""))
		return
	}
	def := schema.Definition{EventType: typ, CurrentVersion: *body.CurrentVersion, Upcasters: []schema.Step{}}
	if len(body.JSONSchema) > 0 && string(body.JSONSchema) != "null" {
		def.JSONSchema = body.JSONSchema
	}
	for _, st := range body.Upcasters {
		step := schema.Step{From: st.From, To: st.To, Ops: []schema.Op{}}
		for _, o := range st.Ops {
			step.Ops = append(step.Ops, schema.Op{Op: o.Op, Path: o.Path, From: nonNull(o.From), To: nonNull(o.To), Value: nonNull(o.Value),
				Values: o.Values, Default: nonNull(o.Default), Separator: o.Separator, Keep: o.Keep})
		}
		def.Upcasters = append(def.Upcasters, step)
	}
	_, created, _, err := s.cfg.Schemas.Put(r.Context(), def)
	switch {
	case errors.Is(err, schema.ErrDefinition), errors.Is(err, schema.ErrVersionDown):
		writeError(w, badRequest(trimPkg(err)))
		return
	case err != nil:
		writeError(w, storeError(err))
		return
	}
	entry, _ := s.cfg.Schemas.Get(typ)
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	ob := startOK()
	*ob = appendSchema(*ob, entry)
	sendOK(w, status, ob)
}

// nonNull treats a JSON null like an absent field.
func nonNull(raw json.RawMessage) json.RawMessage {
	if string(raw) == "null" {
		return nil
	}
	return raw
}

// handleListSchemas is GET /api/schemas.
func (s *Server) handleListSchemas(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	if s.cfg.Schemas == nil {
		writeError(w, unavailable("schemas"))
		return
	}
	ob := startOK()
	b := append(*ob, `{"schemas":[`...)
	for i, e := range s.cfg.Schemas.List() {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendSchema(b, e)
	}
	*ob = append(b, "]}"...)
	sendOK(w, http.StatusOK, ob)
}

// handleGetSchema is GET /api/schemas/{eventType}.
func (s *Server) handleGetSchema(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	if s.cfg.Schemas == nil {
		writeError(w, unavailable("schemas"))
		return
	}
	typ := ps.ByName("eventType")
	if err := engine.ValidateEventType(typ); err != nil {
		writeError(w, storeError(err))
		return
	}
	e, ok := s.cfg.Schemas.Get(typ)
	if !ok {
		writeError(w, errf(http.StatusNotFound, codeNotFound, "no schema for event type "+quoteShort(typ)))
		return
	}
	ob := startOK()
	*ob = appendSchema(*ob, e)
	sendOK(w, http.StatusOK, ob)
}

// appendSchema renders {"eventType", "currentVersion", "upcasters",
// "jsonSchema" (null when none), "revision"}.
func appendSchema(b []byte, e schema.Entry) []byte {
	b = append(b, `{"eventType":`...)
	b = appendString(b, e.Definition.EventType)
	b = append(b, `,"currentVersion":`...)
	b = appendUint(b, uint64(e.Definition.CurrentVersion))
	b = append(b, `,"upcasters":`...)
	up, _ := json.Marshal(e.Definition.Upcasters)
	b = append(b, up...)
	b = append(b, `,"jsonSchema":`...)
	if len(e.Definition.JSONSchema) == 0 {
		b = append(b, "null"...)
	} else {
		var c []byte
		if compact, err := compactJSON(e.Definition.JSONSchema); err == nil {
			c = compact
		} else {
			c = e.Definition.JSONSchema
		}
		b = append(b, c...)
	}
	b = append(b, `,"revision":`...)
	b = appendString(b, e.Revision)
	return append(b, '}')
}

// unavailable answers a request for a subsystem the daemon was started
// without.
func unavailable(what string) *apiError {
	return errf(http.StatusServiceUnavailable, codeUnavailable, what+" are not available on this server")
}
