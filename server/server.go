// Package server is eventd's REST API (docs/api.md) over an engine.Store:
// httprouter routes, the JSON envelopes, validation and limits, bearer-key
// auth, Server-Sent Events subscriptions and Prometheus metrics.
//
// The append path is written to stay lean: bodies are checked and cut into
// fields by a hand-written scanner (jsonscan.go), eventData and metadata
// are stored as the client's bytes and written back as they are, and
// answers are built by appending to pooled buffers.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/eventd/eventd/engine"
	"github.com/eventd/eventd/engine/command"
	"github.com/eventd/eventd/engine/derived"
	"github.com/eventd/eventd/engine/projection"
	"github.com/eventd/eventd/engine/reducer"
	"github.com/eventd/eventd/engine/schema"
	"github.com/eventd/eventd/engine/snapshot"
)

// Store is what the server needs of the engine; *engine.Store has it.
type Store interface {
	Append(ctx context.Context, streamID string, expected engine.ExpectedVersion, events []engine.Proposed) (engine.AppendResult, error)
	ReadStream(streamID string, from uint64, dir engine.Direction, limit int) (engine.Page, error)
	ReadAll(from uint64, dir engine.Direction, limit int, f engine.Filter) (engine.Page, error)
	ReadStreamFunc(streamID string, from uint64, dir engine.Direction, limit int, fn func(*engine.Event) error) (next, head uint64, err error)
	ReadAllFunc(from uint64, dir engine.Direction, limit int, f engine.Filter, fn func(*engine.Event) error) (next, head uint64, err error)
	Stream(id string) (engine.StreamInfo, bool)
	ListStreams(prefix, after string, limit int) ([]engine.StreamInfo, bool)
	Head() uint64
	Stats() engine.Stats
	Err() error
	Problems() []string
	Degraded() bool
	Policy() string
	Subscribe(from uint64, f engine.Filter) *engine.Subscription
	SubscribeStream(streamID string, fromVersion, fromPosition uint64) *engine.Subscription
	// Stored reads events as stored (upcast=false); the methods above
	// upcast them to their current schema version.
	Stored() engine.StoredReader
}

var _ Store = (*engine.Store)(nil)

// Config configures a Server. The zero value works (no auth, default limits).
type Config struct {
	MaxBody      int64         // request body limit in bytes; default 4 MiB
	MaxEventSize int           // eventData+metadata bytes of one event; default 1 MiB
	Heartbeat    time.Duration // SSE comment-line interval; default 15 s
	Auth         *Keys         // nil: auth off
	Metrics      *Metrics      // nil: /metrics serves an empty registry
	Logger       *slog.Logger  // default slog.Default()

	// The subsystems, wired by cmd/eventd. nil: that part of the API
	// answers 503 unavailable.
	Reducers    *reducer.Registry   // nil: only the default reducer
	Commands    *command.Service    // commands and command handlers
	Projections *projection.Manager // projections and queries
	Schemas     *schema.Registry    // event versioning
	Snapshots   *snapshot.Store     // aggregate snapshots (replay starts from them)
	// TotalCommands counts the commands the daemon knows, for /health;
	// nil: 0.
	TotalCommands func() uint64

	// Hardening (append.go, sse.go, accesslog.go).
	BodyTimeout     time.Duration // a request body must arrive within this; default 30 s
	SSEWriteTimeout time.Duration // drop an SSE subscriber whose write blocks this long; default 30 s
	SSEMemory       int64         // bytes all SSE subscribers may hold at once; default 256 MiB
	AccessLog       *slog.Logger  // one line per request (accesslog.go); nil: off

	// CORSOrigins are the origins browser apps may call the API from
	// (cors.go; ParseCORSOrigins reads the flag); "*" alone: any. Empty:
	// no CORS headers.
	CORSOrigins []string
}

func (c Config) withDefaults() Config {
	if c.MaxBody <= 0 {
		c.MaxBody = 4 << 20
	}
	if c.MaxEventSize <= 0 {
		c.MaxEventSize = 1 << 20
	}
	if c.Heartbeat <= 0 {
		c.Heartbeat = 15 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Metrics == nil {
		c.Metrics = NewMetrics()
	}
	if c.Reducers == nil {
		c.Reducers = reducer.NewRegistry()
	}
	if c.TotalCommands == nil {
		c.TotalCommands = func() uint64 { return 0 }
	}
	if c.BodyTimeout <= 0 {
		c.BodyTimeout = 30 * time.Second
	}
	if c.SSEWriteTimeout <= 0 {
		c.SSEWriteTimeout = 30 * time.Second
	}
	if c.SSEMemory <= 0 {
		c.SSEMemory = 256 << 20
	}
	return c
}

// Server serves the API. Create it with New; it is an http.Handler.
type Server struct {
	store   Store
	cfg     Config
	log     *slog.Logger
	router  *httprouter.Router
	started time.Time
	metrics *Metrics
	// reducers say which reducer a stream's replay uses.
	reducers *reducer.Registry
	// metricsH serves /metrics from the metrics' registry.
	metricsH http.Handler

	// streams is cancelled by CloseStreams: every SSE answer ends.
	streams      context.Context
	closeStreams context.CancelFunc
	// sseMem bounds the memory of all SSE subscribers (sse_budget.go).
	sseMem *byteBudget
	// cors is the origins allowed (cors.go); nil: CORS off.
	cors *cors
}

// route is one entry of the routing table (also checked against the
// OpenAPI document by the tests).
type route struct {
	method, path string
	role         Role // RoleNone: open
	sse          bool // takes ?access_token=
	h            httprouter.Handle
}

// New returns a Server for store.
func New(store Store, cfg Config) *Server {
	cfg = cfg.withDefaults()
	s := &Server{store: store, cfg: cfg, log: cfg.Logger, started: time.Now(), metrics: cfg.Metrics, reducers: cfg.Reducers}
	s.streams, s.closeStreams = context.WithCancel(context.Background())
	s.sseMem = newByteBudget(cfg.SSEMemory, s.metrics)
	s.cors = newCORS(cfg.CORSOrigins)
	s.metrics.bind(store)
	if cfg.Projections != nil {
		s.registerProjectionMetrics()
	}
	s.metricsH = promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{})

	r := httprouter.New()
	r.RedirectTrailingSlash = false
	r.RedirectFixedPath = false
	// OPTIONS on a routed path: 204 with Allow, and a CORS preflight's
	// headers (cors.go). No key needed: browsers send preflights without.
	r.HandleOPTIONS = true
	r.GlobalOPTIONS = http.HandlerFunc(s.handlePreflight)
	r.NotFound = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		writeError(w, errf(http.StatusNotFound, codeNotFound, "no such endpoint: "+req.Method+" "+req.URL.Path))
	})
	r.MethodNotAllowed = http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		writeError(w, errf(http.StatusMethodNotAllowed, codeBadRequest, "method "+req.Method+" not allowed on "+req.URL.Path))
	})
	r.PanicHandler = func(w http.ResponseWriter, req *http.Request, v any) {
		s.log.Error("panic serving request", "method", req.Method, "path", req.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
		writeError(w, errf(http.StatusInternalServerError, codeInternal, "internal error"))
	}
	for _, rt := range s.withHEAD(s.routes()) {
		h := rt.h
		if cfg.Auth != nil && rt.role != RoleNone {
			h = s.authorize(rt.role, rt.sse, h)
		}
		h = s.accessRoute(rt.path, h)
		r.Handle(rt.method, rt.path, h)
	}
	s.router = r
	return s
}

func (s *Server) routes() []route {
	rs := []route{
		{"POST", "/api/events", RoleWrite, false, s.handleAppend},
		{"GET", "/api/events/:streamId", RoleRead, false, s.handleReadStream},
		{"GET", "/api/events/:streamId/:fromVersion", RoleRead, false, s.handleReadStream},
		{"POST", "/api/events/:streamId/replay", RoleWrite, false, s.handleReplay},
		{"POST", "/api/streams/:streamId/events", RoleWrite, false, s.handleBatch},
		{"GET", "/api/streams", RoleRead, false, s.handleListStreams},
		{"GET", "/api/streams/:streamId", RoleRead, false, s.handleGetStream},
		{"GET", "/api/streams/:streamId/subscribe", RoleRead, true, s.handleSubscribeStream},
		{"GET", "/api/all", RoleRead, false, s.handleAll},
		{"GET", "/api/subscribe", RoleRead, true, s.handleSubscribeAll},
		{"GET", "/api/openapi.json", RoleRead, false, s.handleOpenAPI},
		{"GET", "/health", RoleNone, false, s.handleHealth},
		{"GET", "/metrics", RoleRead, false, s.handleMetrics},
	}
	rs = append(rs, s.reducerRoutes()...)
	rs = append(rs, s.schemaRoutes()...)
	rs = append(rs, s.snapshotRoutes()...)
	rs = append(rs, s.commandRoutes()...)
	rs = append(rs, s.projectionRoutes()...)
	rs = append(rs, s.uiRoutes()...)
	return rs
}

// withHEAD adds a HEAD route for every GET route that has none (RFC 9110:
// the GET handler runs, net/http sends its headers and drops the body; an
// SSE route answers HEAD without subscribing).
func (s *Server) withHEAD(rs []route) []route {
	have := map[string]bool{}
	for _, rt := range rs {
		if rt.method == http.MethodHead {
			have[rt.path] = true
		}
	}
	out := rs
	for _, rt := range rs {
		if rt.method == http.MethodGet && !have[rt.path] {
			rt.method = http.MethodHead
			out = append(out, rt)
		}
	}
	return out
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The access log and the request metrics (accesslog.go, httpmetrics.go).
	a := accessWriters.Get().(*accessWriter)
	*a = accessWriter{ResponseWriter: w}
	defer s.finishRequest(a, r, time.Now())
	w = a
	s.setCORS(w.Header(), r)
	if e := s.crossOriginWrite(r); e != nil { // a browser's write from another origin (cors.go)
		writeError(w, e)
		return
	}
	// The router matches the decoded path: an encoded slash would move a
	// part of a stream id into another path segment ("a%2Fevents" is not
	// stream "a"). No id may contain '/', so such a path is refused.
	if raw := r.URL.RawPath; raw != "" && strings.Contains(strings.ToLower(raw), "%2f") {
		writeError(w, errf(http.StatusBadRequest, codeInvalidStreamID, "a stream id cannot contain '/' (an encoded slash in the path)"))
		return
	}
	s.router.ServeHTTP(w, r)
}

// finishRequest counts and logs a request once it is answered.
func (s *Server) finishRequest(a *accessWriter, r *http.Request, start time.Time) {
	s.metrics.observeRequest(r, a, start)
	if s.cfg.AccessLog != nil {
		s.logAccess(a, r, start)
	}
	*a = accessWriter{}
	accessWriters.Put(a)
}

// CloseStreams ends every open SSE subscription (and refuses new ones); call
// it when shutting down, before http.Server.Shutdown waits for handlers.
func (s *Server) CloseStreams() { s.closeStreams() }

// storeError maps an engine error to an answer.
func storeError(err error) *apiError {
	var wev *engine.WrongExpectedVersionError
	var failed *engine.FailedError
	switch {
	case errors.As(err, &wev):
		return errf(http.StatusConflict, codeWrongExpected, err.Error())
	case errors.Is(err, engine.ErrDuplicateEvent):
		return errf(http.StatusConflict, codeDuplicateEvent, "some, but not all, of the event ids were already written to this stream")
	case errors.Is(err, engine.ErrInvalidStreamID):
		return errf(http.StatusBadRequest, codeInvalidStreamID, err.Error())
	case errors.Is(err, engine.ErrInvalidEventType):
		return errf(http.StatusBadRequest, codeInvalidEventType, err.Error())
	case errors.Is(err, engine.ErrEventTooLarge):
		return errf(http.StatusRequestEntityTooLarge, codeTooLarge, err.Error())
	case errors.Is(err, engine.ErrInvalidEvent):
		return badRequest(err.Error())
	case errors.Is(err, engine.ErrSchemaViolation), errors.Is(err, engine.ErrUpcast):
		return schemaError(err)
	case errors.As(err, &failed), errors.Is(err, engine.ErrClosed), errors.Is(err, derived.ErrFailed), errors.Is(err, derived.ErrNoRoom):
		return errf(http.StatusServiceUnavailable, codeUnavailable, err.Error())
	case errors.Is(err, engine.ErrCorrupt):
		// Damaged data is never returned: the read fails, /health says degraded.
		return errf(http.StatusServiceUnavailable, codeUnavailable, "stored data is damaged: "+err.Error())
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return errf(http.StatusServiceUnavailable, codeUnavailable, "request cancelled before it was written")
	default:
		return errf(http.StatusInternalServerError, codeInternal, err.Error())
	}
}
