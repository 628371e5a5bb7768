package bench

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Stub is the no-op target of `eventd stub`: an HTTP server configured as
// the daemon's is, that reads each append's body and answers the way the
// daemon answers (201 and a result of the same size) without validating
// or storing anything. What the load generator measures against it is the
// cost of HTTP itself on this machine: the ceiling every append pays
// before any storage work (issue: single-client appends).
func Stub() http.Handler {
	var pos atomic.Uint64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodGet && r.URL.Path == "/health":
			writeStub(w, http.StatusOK, []byte(`{"status":"healthy","stub":true}`+"\n"))
			return
		case r.Method != http.MethodPost:
			writeStub(w, http.StatusNotFound, []byte(`{"success":false,"error":"the stub answers appends only","code":"not_found"}`+"\n"))
			return
		}
		var buf [64 << 10]byte
		n := 0
		for {
			k, err := r.Body.Read(buf[:])
			n += k
			if err == io.EOF {
				break
			}
			if err != nil {
				return
			}
		}
		p := pos.Add(1)
		b := make([]byte, 0, 256)
		if strings.HasPrefix(r.URL.Path, "/api/streams/") {
			b = append(b, `{"success":true,"data":{"streamId":"stub","firstVersion":1,"lastVersion":1,"firstPosition":`...)
			b = strconv.AppendUint(b, p, 10)
			b = append(b, `,"lastPosition":`...)
			b = strconv.AppendUint(b, p, 10)
			b = append(b, `,"timestamp":"2024-01-15T10:30:00.000Z","events":[]}}`+"\n"...)
		} else {
			b = append(b, `{"success":true,"data":{"eventId":"0190f4d2-7b3a-7c55-8f1e-2a6b9c0d4e5f","streamId":"stub","version":1,"eventType":"BenchEvent","timestamp":"2024-01-15T10:30:00.000Z","position":`...)
			b = strconv.AppendUint(b, p, 10)
			b = append(b, "}}\n"...)
		}
		_ = n
		writeStub(w, http.StatusCreated, b)
	})
}

func writeStub(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = []string{"application/json"}
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// ServeStub serves Stub on ln with the daemon's server settings until the
// listener is closed.
func ServeStub(ln net.Listener) error {
	hs := &http.Server{Handler: Stub(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
	return hs.Serve(ln)
}
