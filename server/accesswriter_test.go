package server

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// readFromRecorder is a ResponseWriter with a ReadFrom, as net/http's.
type readFromRecorder struct {
	*httptest.ResponseRecorder
	readFrom int64
}

func (r *readFromRecorder) ReadFrom(src io.Reader) (int64, error) {
	n, err := io.Copy(r.ResponseRecorder, src)
	r.readFrom += n
	return n, err
}

// TestAccessWriterReadFrom: a file's copy reaches the connection's
// ReadFrom (sendfile) through the access writer, its bytes counted.
func TestAccessWriterReadFrom(t *testing.T) {
	e := newEnv(t, Config{})
	rec := &readFromRecorder{ResponseRecorder: httptest.NewRecorder()}
	e.srv.ServeHTTP(rec, httptest.NewRequest("GET", "/ui/", nil))
	if rec.Code != 200 || rec.readFrom == 0 || rec.readFrom != int64(rec.Body.Len()) {
		t.Fatalf("GET /ui/: %d, ReadFrom copied %d of %d bytes", rec.Code, rec.readFrom, rec.Body.Len())
	}
	a := &accessWriter{ResponseWriter: rec}
	var _ io.ReaderFrom = a
}

// TestServeHTTPAllocations: what ServeHTTP adds around the router (the
// access writer, the request metrics) allocates nothing per request.
func TestServeHTTPAllocations(t *testing.T) {
	e := newEnv(t, Config{})
	req := httptest.NewRequest("GET", "/api/streams/nope", nil)
	w := &discardWriter{h: http.Header{}}
	run := func(h http.Handler) float64 {
		h.ServeHTTP(w, req) // warm the metrics' series
		return testing.AllocsPerRun(200, func() {
			clear(w.h)
			h.ServeHTTP(w, req)
		})
	}
	bare, full := run(e.srv.router), run(e.srv)
	if full > bare {
		t.Errorf("ServeHTTP: %.1f allocations per request, the router alone %.1f", full, bare)
	}
}

type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardWriter) WriteHeader(int)             {}
