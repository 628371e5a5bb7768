package server

import (
	"log/slog"
	"net/http"
	"strconv"
	"time"
)

// Starting returns the handler the daemon serves between binding its
// address and having its store open (a full --verify-on-start or an index
// rebuild can take minutes): a connection gets an answer at once instead of
// hanging. Every request is answered 503 unavailable "starting" with
// Retry-After: 1; GET and HEAD /health answer 503 with status "starting"
// (the Health object, its counts 0). accessLog (Config.AccessLog) gets a
// line per request; nil: none.
func Starting(accessLog *slog.Logger) http.Handler {
	since := time.Now()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		a := &accessWriter{ResponseWriter: w}
		a.Header().Set("Retry-After", "1")
		if r.URL.Path == "/health" && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			bp := getBuf()
			b := append((*bp)[:0], `{"status":"starting","timestamp":`...)
			b = appendTime(b, start)
			b = append(b, `,"totalEvents":0,"totalStreams":0,"totalCommands":0,"headPosition":0,"uptimeSeconds":`...)
			b = strconv.AppendFloat(b, start.Sub(since).Seconds(), 'f', 3, 64)
			b = append(b, `,"fsync":"","dataDirBytes":0,"problems":["starting: the store is being opened"]}`+"\n"...)
			a.Header()["Cache-Control"] = hdrNoStore
			writeRaw(a, http.StatusServiceUnavailable, b)
			*bp = b
			putBuf(bp)
		} else {
			writeError(a, errf(http.StatusServiceUnavailable, codeUnavailable, "starting"))
		}
		if accessLog != nil {
			writeAccessLine(accessLog, r, a.status, "", "", a.bytes, start)
		}
	})
}
