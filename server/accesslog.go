package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/julienschmidt/httprouter"
)

// The access log (Config.AccessLog, --access-log): one line per request,
// written when the answer is finished (for a subscription, when it ends),
// refused ones included, so 401s, 403s and 5xxs leave a trail:
//
//	msg=request method=POST route=/api/events/:streamId/replay status=403
//	duration=1.2ms bytes=112 key=9f86d081 remote=10.0.0.7:51234
//
// route is the matched route's pattern ("-" when none matched), never the
// path: paths hold stream ids, and SSE queries may hold ?access_token=.
// key is the first 8 hex digits of the SHA-256 of the key the request
// presented ("-" when none, or auth is off): enough to tell keys apart
// and to find one in the keys file, useless to call the API with. Neither
// keys, tokens, queries nor bodies are ever logged.

// accessWriter records what the access log needs of an answer.
type accessWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
	route  string // the route's pattern, set by accessRoute
	key    string // the presented key's fingerprint, set by authorize
	sse    bool   // an SSE subscription opened (left out of the latency histogram); set by serveSubscription
}

func (a *accessWriter) WriteHeader(code int) {
	if a.status == 0 && code >= 200 {
		a.status = code
	}
	a.ResponseWriter.WriteHeader(code)
}

func (a *accessWriter) Write(b []byte) (int, error) {
	if a.status == 0 {
		a.status = http.StatusOK
	}
	n, err := a.ResponseWriter.Write(b)
	a.bytes += int64(n)
	return n, err
}

// ReadFrom passes io.Copy to the underlying writer's ReadFrom (net/http's
// uses sendfile for files), counting the bytes.
func (a *accessWriter) ReadFrom(src io.Reader) (int64, error) {
	if a.status == 0 {
		a.status = http.StatusOK
	}
	var n int64
	var err error
	if rf, ok := a.ResponseWriter.(io.ReaderFrom); ok {
		n, err = rf.ReadFrom(src)
	} else {
		n, err = io.Copy(a.ResponseWriter, src)
	}
	a.bytes += n
	return n, err
}

// accessWriters are reused: Server.ServeHTTP takes one per request and
// puts it back once the request is logged (nothing keeps it after).
var accessWriters = sync.Pool{New: func() any { return new(accessWriter) }}

// markSubscription marks w's request as an open SSE subscription: its
// duration is how long the client stayed, not a latency.
func markSubscription(w http.ResponseWriter) {
	if a, ok := w.(*accessWriter); ok {
		a.sse = true
	}
}

// Unwrap lets http.ResponseController reach the connection (flushes and
// deadlines for SSE and request bodies).
func (a *accessWriter) Unwrap() http.ResponseWriter { return a.ResponseWriter }

// accessRoute wraps a route's handler so the access log and the request
// metrics name its pattern.
func (s *Server) accessRoute(pattern string, h httprouter.Handle) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
		if a, ok := w.(*accessWriter); ok {
			a.route = pattern
		}
		h(w, r, ps)
	}
}

// logAccess writes the access line of a finished request.
func (s *Server) logAccess(a *accessWriter, r *http.Request, start time.Time) {
	writeAccessLine(s.cfg.AccessLog, r, a.status, a.route, a.key, a.bytes, start)
}

func writeAccessLine(l *slog.Logger, r *http.Request, status int, route, key string, bytes int64, start time.Time) {
	if status == 0 {
		status = http.StatusOK // the handler wrote nothing
	}
	if route == "" {
		route = "-"
	}
	if key == "" {
		key = "-"
	}
	l.LogAttrs(context.Background(), slog.LevelInfo, "request",
		slog.String("method", r.Method),
		slog.String("route", route),
		slog.Int("status", status),
		slog.Duration("duration", time.Since(start)),
		slog.Int64("bytes", bytes),
		slog.String("key", key),
		slog.String("remote", r.RemoteAddr))
}

// keyFingerprint names a key in the access log: the first 8 hex digits of
// its SHA-256 (printf %s "$KEY" | sha256sum | cut -c1-8).
func keyFingerprint(h [sha256.Size]byte) string { return hex.EncodeToString(h[:4]) }
