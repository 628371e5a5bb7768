package server

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
)

// The OpenAPI document served at /api/openapi.json is checked by an
// independent validator (kin-openapi): the document itself, and every
// answer the API tests receive (helpers_test.go do) against the operation
// it documents — status codes included — so a field or a status added to
// the server and not to the document, or the other way round, fails a
// test.

var (
	specOnce   sync.Once
	specRouter routers.Router
	specErr    error
)

func loadSpec() (routers.Router, error) {
	specOnce.Do(func() {
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData(openAPI)
		if err != nil {
			specErr = err
			return
		}
		if err := doc.Validate(loader.Context); err != nil {
			specErr = err
			return
		}
		doc.Servers = openapi3.Servers{{URL: "http://127.0.0.1:2113"}}
		specRouter, specErr = legacy.NewRouter(doc)
	})
	return specRouter, specErr
}

func TestOpenAPIDocumentIsValid(t *testing.T) {
	if _, err := loadSpec(); err != nil {
		t.Fatalf("openapi.json does not validate: %v", err)
	}
}

// checkAnswer validates one answer against the document. Requests the
// document does not cover (unknown routes, the SSE streams) are not checked
// here; TestOpenAPICoversRoutes holds the routes and the document together.
func checkAnswer(t testing.TB, req *http.Request, status int, header http.Header, body []byte) {
	t.Helper()
	rt, err := loadSpec()
	if err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	if strings.HasSuffix(req.URL.Path, "/subscribe") || strings.HasPrefix(req.URL.Path, "/ui") {
		return
	}
	u := *req.URL
	u.Scheme, u.Host = "http", "127.0.0.1:2113"
	probe := &http.Request{Method: req.Method, URL: &url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery}, Header: req.Header}
	route, params, err := rt.FindRoute(probe)
	if err != nil {
		return // not a documented route (404/405 answers to unknown paths)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: probe, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}},
		Status:  status,
		Header:  header,
		Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if req.Method == http.MethodHead {
		in.Options.ExcludeResponseBody = true
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		msg := err.Error()
		if len(msg) > 2000 {
			msg = msg[:2000] + "…"
		}
		t.Errorf("%s %s answered %d, which openapi.json does not describe: %s\nbody: %.500s", req.Method, req.URL.Path, status, msg, body)
	}
}
