package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
)

// fakeServer speaks the shapes of the API the generator uses (append,
// batch append, stream and $all pages, replay, /health, stream list) over
// an in-memory log. It is test scaffolding for the generator only.
type fakeServer struct {
	mu            sync.Mutex
	log           []fakeEvent         // position = index+1
	versions      map[string]uint64   // stream → current version
	byStream      map[string][]uint64 // stream → positions
	requests      map[string]int      // route → count
	expected      map[string][]uint64 // stream → expected versions received, in order
	conflictEvery int                 // >0: every Nth append, another writer appends first
	sseSkip       uint64              // >0: subscriptions skip this position
	sseStallAfter int                 // >0: subscriptions stop sending after this many events (stay open)
	sseError      bool                // subscriptions send an `event: error` message after the first events
	appends       int
	conflicts     int
}

type fakeEvent struct {
	Stream  string
	Version uint64
	Data    json.RawMessage
}

func newFakeServer(t *testing.T) (*fakeServer, *httptest.Server) {
	f := &fakeServer{
		versions: map[string]uint64{},
		byStream: map[string][]uint64{},
		requests: map[string]int{},
		expected: map[string][]uint64{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/events", f.appendSingle)
	mux.HandleFunc("POST /api/streams/{id}/events", f.appendBatch)
	mux.HandleFunc("GET /api/events/{id}", f.readStream)
	mux.HandleFunc("POST /api/events/{id}/replay", f.replay)
	mux.HandleFunc("GET /api/all", f.readAll)
	mux.HandleFunc("GET /api/subscribe", f.subscribeAll)
	mux.HandleFunc("GET /api/streams/{id}/subscribe", f.subscribeStream)
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		json.NewEncoder(w).Encode(map[string]any{"status": "healthy", "headPosition": len(f.log)})
	})
	mux.HandleFunc("GET /api/streams", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		var list []map[string]any
		for id, v := range f.versions {
			list = append(list, map[string]any{"streamId": id, "currentVersion": v})
		}
		ok(w, 200, map[string]any{"streams": list})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return f, srv
}

func ok(w http.ResponseWriter, code int, data any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]any{"success": true, "data": data})
}

func fail(w http.ResponseWriter, code int, kind string, details any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]any{"success": false, "error": kind, "code": kind, "details": details})
}

type fakeIn struct {
	StreamID        string          `json:"streamId"`
	EventType       string          `json:"eventType"`
	EventData       json.RawMessage `json:"eventData"`
	ExpectedVersion *uint64         `json:"expectedVersion"`
	Events          []fakeIn        `json:"events"`
}

// appendLocked checks the expected version and appends; it answers 409
// like the real API when it does not match.
func (f *fakeServer) appendLocked(w http.ResponseWriter, stream string, expected *uint64, events []fakeIn) bool {
	f.appends++
	if expected != nil {
		f.expected[stream] = append(f.expected[stream], *expected)
	}
	if f.conflictEvery > 0 && f.appends%f.conflictEvery == 0 {
		f.writeLocked(stream, json.RawMessage(`{"rogue":true}`)) // someone else got there first
		f.conflicts++
	}
	cur := f.versions[stream]
	if expected == nil || *expected != cur {
		fail(w, 409, "wrong_expected_version", map[string]any{"expectedVersion": expected, "currentVersion": cur})
		return false
	}
	first := cur + 1
	for _, e := range events {
		if e.EventType != "BenchEvent" || len(e.EventData) == 0 || e.EventData[0] != '{' {
			fail(w, 400, "bad_request", nil)
			return false
		}
		f.writeLocked(stream, e.EventData)
	}
	ok(w, 201, map[string]any{"streamId": stream, "firstVersion": first, "lastVersion": f.versions[stream]})
	return true
}

func (f *fakeServer) writeLocked(stream string, data json.RawMessage) {
	f.versions[stream]++
	f.log = append(f.log, fakeEvent{stream, f.versions[stream], data})
	f.byStream[stream] = append(f.byStream[stream], uint64(len(f.log)))
}

func (f *fakeServer) appendSingle(w http.ResponseWriter, r *http.Request) {
	var in fakeIn
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		fail(w, 400, "invalid_json", nil)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests["single"]++
	f.appendLocked(w, in.StreamID, in.ExpectedVersion, []fakeIn{in})
}

func (f *fakeServer) appendBatch(w http.ResponseWriter, r *http.Request) {
	var in fakeIn
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || len(in.Events) == 0 {
		fail(w, 400, "invalid_json", nil)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests["batch"]++
	f.appendLocked(w, r.PathValue("id"), in.ExpectedVersion, in.Events)
}

func (f *fakeServer) eventJSON(pos uint64) map[string]any {
	e := f.log[pos-1]
	return map[string]any{"eventId": fmt.Sprint("e", pos), "streamId": e.Stream, "version": e.Version,
		"position": pos, "eventType": "BenchEvent", "eventData": e.Data, "metadata": map[string]any{}}
}

func query(r *http.Request, key string, def uint64) uint64 {
	if s := r.URL.Query().Get(key); s != "" {
		v, _ := strconv.ParseUint(s, 10, 64)
		return v
	}
	return def
}

func (f *fakeServer) readStream(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests["stream"]++
	id := r.PathValue("id")
	from, limit := query(r, "fromVersion", 0), query(r, "limit", 1000)
	events := []map[string]any{}
	positions := f.byStream[id]
	for v := from + 1; v <= uint64(len(positions)) && uint64(len(events)) < limit; v++ {
		events = append(events, f.eventJSON(positions[v-1]))
	}
	data := map[string]any{"streamId": id, "events": events, "currentVersion": len(positions)}
	if from+uint64(len(events)) < uint64(len(positions)) {
		data["nextFromVersion"] = from + uint64(len(events))
	}
	ok(w, 200, data)
}

func (f *fakeServer) readAll(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests["all"]++
	from, limit := query(r, "fromPosition", 0), query(r, "limit", 1000)
	events := []map[string]any{}
	for p := from + 1; p <= uint64(len(f.log)) && uint64(len(events)) < limit; p++ {
		events = append(events, f.eventJSON(p))
	}
	ok(w, 200, map[string]any{"events": events, "headPosition": len(f.log)})
}

func (f *fakeServer) replay(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests["replay"]++
	id := r.PathValue("id")
	v, found := f.versions[id]
	if !found {
		fail(w, 404, "not_found", nil)
		return
	}
	ok(w, 200, map[string]any{"streamId": id, "finalState": map[string]any{"pad": "x"}, "fromVersion": 0,
		"toVersion": v, "snapshotVersion": nil, "eventsApplied": v})
}

// subscribeAll is a minimal GET /api/subscribe: the events after
// fromPosition as SSE messages (with a heartbeat comment among them), then
// it holds the connection open like a live subscription.
func (f *fakeServer) subscribeAll(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests["sse-all"]++
	from := query(r, "fromPosition", uint64(len(f.log)))
	var positions []uint64
	for p := from + 1; p <= uint64(len(f.log)); p++ {
		positions = append(positions, p)
	}
	f.mu.Unlock()
	f.serveSSE(w, r, positions)
}

// subscribeStream is a minimal GET /api/streams/{id}/subscribe?fromVersion=.
func (f *fakeServer) subscribeStream(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests["sse-stream"]++
	all := f.byStream[r.PathValue("id")]
	from := query(r, "fromVersion", uint64(len(all)))
	positions := slices.Clone(all[min(from, uint64(len(all))):])
	f.mu.Unlock()
	f.serveSSE(w, r, positions)
}

func (f *fakeServer) serveSSE(w http.ResponseWriter, r *http.Request, positions []uint64) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.WriteHeader(200)
	rc := http.NewResponseController(w)
	io.WriteString(w, ": subscribed\n\n")
	for i, p := range positions {
		if p == f.sseSkip {
			continue
		}
		if f.sseStallAfter > 0 && i == f.sseStallAfter {
			break
		}
		if f.sseError && i == 10 {
			io.WriteString(w, "event: error\ndata: \"read failed\"\n\n")
			rc.Flush()
			return
		}
		f.mu.Lock()
		b, _ := json.Marshal(f.eventJSON(p))
		f.mu.Unlock()
		fmt.Fprintf(w, "id: %d\nevent: BenchEvent\ndata: %s\n\n", p, b)
		if i%100 == 99 {
			io.WriteString(w, ": heartbeat\n\n")
			rc.Flush()
		}
	}
	rc.Flush()
	<-r.Context().Done() // live: nothing more to send
}
