package server

import (
	"net/http"

	"github.com/julienschmidt/httprouter"

	"github.com/eventd/eventd/engine/command"
)

// handlerBody is the body of PUT /api/command-handlers/{commandType}.
type handlerBody struct {
	EventType    *string `json:"eventType"`
	StreamIDFrom *string `json:"streamIdFrom"`
	Expect       *string `json:"expect"`
	Data         *string `json:"data"`
}

// handlePutCommandHandler is PUT /api/command-handlers/{commandType}: 201
// for a new command type, 200 for a replaced (or unchanged) one, with the
// definition as stored. Built-in command types cannot be replaced (400).
func (s *Server) handlePutCommandHandler(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	svc := s.commands(w)
	if svc == nil {
		return
	}
	bp, e := s.readBody(w, r)
	if e != nil {
		writeError(w, e)
		return
	}
	defer putBuf(bp)
	var body handlerBody
	if e := decodeStrict(*bp, &body); e != nil {
		writeError(w, e)
		return
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"eventType", body.EventType}, {"streamIdFrom", body.StreamIDFrom}, {"expect", body.Expect}} {
		if f.v == nil {
			writeError(w, badRequest("missing field "+quoteShort(f.name)))
			return
		}
	}
	def := command.HandlerDef{EventType: *body.EventType, StreamIDFrom: *body.StreamIDFrom, Expect: command.Expect(*body.Expect), Data: "commandData"}
	if body.Data != nil {
		def.Data = *body.Data
	}
	h, created, err := svc.PutHandler(r.Context(), ps.ByName("commandType"), def)
	if err != nil {
		writeError(w, commandError(err))
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	ob := startOK()
	*ob = appendHandler(*ob, &h)
	sendOK(w, status, ob)
}

// handleListCommandHandlers is GET /api/command-handlers: built-in and
// registered handlers, by command type.
func (s *Server) handleListCommandHandlers(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	svc := s.commands(w)
	if svc == nil {
		return
	}
	bp := startOK()
	b := append(*bp, `{"handlers":[`...)
	for i, h := range svc.Handlers() {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendHandler(b, &h)
	}
	*bp = append(b, "]}"...)
	sendOK(w, http.StatusOK, bp)
}

// handleGetCommandHandler is GET /api/command-handlers/{commandType}.
func (s *Server) handleGetCommandHandler(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	svc := s.commands(w)
	if svc == nil {
		return
	}
	typ := ps.ByName("commandType")
	for _, h := range svc.Handlers() {
		if h.CommandType == typ {
			bp := startOK()
			*bp = appendHandler(*bp, &h)
			sendOK(w, http.StatusOK, bp)
			return
		}
	}
	writeError(w, errf(http.StatusNotFound, codeNotFound, "no handler for command type "+quoteShort(typ)))
}

// appendHandler renders {"commandType","eventType","streamIdFrom",
// "expect","data","builtIn","fields","updatedAt"}: fields (the commandData
// a built-in takes) is null for registered handlers, updatedAt for
// built-ins.
func appendHandler(b []byte, h *command.Handler) []byte {
	b = append(b, `{"commandType":`...)
	b = appendString(b, h.CommandType)
	b = append(b, `,"eventType":`...)
	b = appendString(b, h.EventType)
	b = append(b, `,"streamIdFrom":`...)
	b = appendString(b, h.StreamIDFrom)
	b = append(b, `,"expect":`...)
	b = appendString(b, string(h.Expect))
	b = append(b, `,"data":`...)
	b = appendString(b, h.Data)
	b = append(b, `,"builtIn":`...)
	if h.BuiltIn {
		b = append(b, `true,"fields":[`...)
		for i, f := range h.Fields {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"name":`...)
			b = appendString(b, f.Name)
			b = append(b, `,"kind":`...)
			b = appendString(b, f.Kind)
			b = append(b, '}')
		}
		b = append(b, `],"updatedAt":null}`...)
		return b
	}
	b = append(b, `false,"fields":null,"updatedAt":`...)
	b = appendTime(b, h.UpdatedAt)
	return append(b, '}')
}
