package server

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/julienschmidt/httprouter"

	"github.com/eventd/eventd/engine/reducer"
)

// reducerRoutes are the routes of registered reducers (docs/api.md
// "Reducers").
func (s *Server) reducerRoutes() []route {
	return []route{
		{"PUT", "/api/reducers/:name", RoleAdmin, false, s.handlePutReducer},
		{"GET", "/api/reducers", RoleRead, false, s.handleListReducers},
		{"GET", "/api/reducers/:name", RoleRead, false, s.handleGetReducer},
	}
}

// reducerBody is the body of PUT /api/reducers/{name}. A handler is one op
// or a list of ops.
type reducerBody struct {
	Category *string                    `json:"category"`
	Handlers map[string]json.RawMessage `json:"handlers"`
}

// handlePutReducer is PUT /api/reducers/{name}: 201 for a new name, 200 for
// a replaced (or unchanged) one; the revision changes whenever the
// definition does.
func (s *Server) handlePutReducer(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	name := ps.ByName("name")
	if err := reducer.ValidateName(name); err != nil {
		writeError(w, badRequest(trimPkg(err)))
		return
	}
	bp, e := s.readBody(w, r)
	if e != nil {
		writeError(w, e)
		return
	}
	defer putBuf(bp)
	var body reducerBody
	if e := decodeStrict(*bp, &body); e != nil {
		writeError(w, e)
		return
	}
	if body.Handlers == nil {
		writeError(w, badRequest("missing field \"handlers\""))
		return
	}
	def := reducer.Definition{Name: name, Handlers: make(map[string][]reducer.Op, len(body.Handlers))}
	if body.Category != nil {
		def.Category = *body.Category
		if def.Category == "" {
			writeError(w, badRequest("category must not be empty (omit it for a reducer used by name only)"))
			return
		}
	}
	for typ, raw := range body.Handlers {
		var ops []reducer.Op
		var e *apiError
		if raw[0] == '[' {
			e = decodeStrictValue(raw, &ops, "handlers."+typ)
		} else {
			var op reducer.Op
			e = decodeStrictValue(raw, &op, "handlers."+typ)
			ops = []reducer.Op{op}
		}
		if e != nil {
			writeError(w, e)
			return
		}
		def.Handlers[typ] = ops
	}
	entry, created, _, err := s.reducers.Put(r.Context(), def)
	switch {
	case errors.Is(err, reducer.ErrDefinition):
		writeError(w, badRequest(trimPkg(err)))
		return
	case errors.Is(err, reducer.ErrCategoryTaken):
		writeError(w, errf(http.StatusConflict, codeBadRequest, trimPkg(err)))
		return
	case err != nil:
		writeError(w, storeError(err))
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	bp2 := startOK()
	*bp2 = appendReducer(*bp2, entry, false)
	sendOK(w, status, bp2)
}

// handleListReducers is GET /api/reducers: every reducer, the default one
// included, in name order.
func (s *Server) handleListReducers(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	bp := startOK()
	b := append(*bp, `{"reducers":[`...)
	for i, e := range s.reducers.List() {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendReducer(b, e, true)
	}
	*bp = append(b, "]}"...)
	sendOK(w, http.StatusOK, bp)
}

// handleGetReducer is GET /api/reducers/{name}.
func (s *Server) handleGetReducer(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	name := ps.ByName("name")
	for _, e := range s.reducers.List() {
		if e.Reducer.Name() == name {
			bp := startOK()
			*bp = appendReducer(*bp, e, true)
			sendOK(w, http.StatusOK, bp)
			return
		}
	}
	writeError(w, errf(http.StatusNotFound, codeNotFound, "no reducer "+quoteShort(name)))
}

// appendReducer renders {"name","category","revision"} and, with
// handlers, the definition's handlers (null for the built-in default).
func appendReducer(b []byte, e reducer.Entry, handlers bool) []byte {
	b = append(b, `{"name":`...)
	b = appendString(b, e.Reducer.Name())
	b = append(b, `,"category":`...)
	if e.Category == "" {
		b = append(b, "null"...)
	} else {
		b = appendString(b, e.Category)
	}
	b = append(b, `,"revision":`...)
	b = appendString(b, e.Reducer.Revision())
	if handlers {
		b = append(b, `,"builtIn":`...)
		def, ok := reducer.DefinitionOf(e.Reducer)
		if !ok {
			b = append(b, `true,"handlers":null`...)
		} else {
			h, _ := json.Marshal(def.Handlers)
			b = append(b, `false,"handlers":`...)
			b = append(b, h...)
		}
	}
	return append(b, '}')
}
