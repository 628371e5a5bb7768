package server

import (
	_ "embed"
	"net/http"

	"github.com/julienschmidt/httprouter"
)

// openAPI is the OpenAPI 3 description of every route (a test checks that
// the document and the routing table name the same routes).
//
//go:embed openapi.json
var openAPI []byte

func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	writeRaw(w, http.StatusOK, openAPI)
}
