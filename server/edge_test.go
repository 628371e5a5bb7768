package server

import (
	"net/http"
	"testing"
)

// Edge cases found by an independent review; each must be refused (or
// answered) without touching stored data.
func TestEdgeCases(t *testing.T) {
	e := newEnv(t, Config{})
	e.add("victim", "T", M{})

	// An encoded slash must not move part of a stream id into the route.
	e.post("/api/streams/victim%2Fevents", M{"events": []M{{"eventType": "T", "eventData": M{}}}}).fail(t, 400, "invalid_stream_id")
	e.post("/api/events/victim%2Freplay", nil).fail(t, 400, "invalid_stream_id")
	e.get("/api/events/victim%2F1").fail(t, 400, "invalid_stream_id")

	// Lone surrogates are not characters: two different ones must not
	// become the same event id (or be stored in data).
	for _, body := range []string{
		`{"streamId":"victim","eventType":"T","eventData":{},"eventId":"\ud800"}`,
		`{"streamId":"victim","eventType":"T","eventData":{},"eventId":"\udbff x"}`,
		`{"streamId":"victim","eventType":"T","eventData":{"a":"\udc00"}}`,
		`{"streamId":"victim","eventType":"T","eventData":{"a":"\ud800\u0041"}}`,
	} {
		e.post("/api/events", body).fail(t, 400, "invalid_json")
	}
	// A proper pair is fine.
	e.post("/api/events", `{"streamId":"victim","eventType":"T","eventData":{"a":"\ud83d\ude00"}}`).ok(t, 201)

	// A fromPosition at the top of the range is past the head: empty, not 500.
	d := e.get("/api/all?fromPosition=18446744073709551615").ok(t, 200)
	if len(arr(t, d["events"])) != 0 {
		t.Fatalf("events past the head: %v", d)
	}

	// Only JSON whitespace makes a replay body empty.
	for _, body := range []string{"\v", "\f", "\u00a0"} {
		e.post("/api/events/victim/replay", body).fail(t, 400, "invalid_json")
	}
	e.post("/api/events/victim/replay", " \n\t").ok(t, 200)

	// HEAD /health answers like GET, without a body.
	req, _ := http.NewRequest(http.MethodHead, e.ts.URL+"/health", nil)
	res, err := e.hc.Do(req)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("HEAD /health: %v %v", res, err)
	}
	res.Body.Close()

	if n := num(t, e.get("/health").v["totalEvents"]); n != 2 {
		t.Fatalf("%d events stored, want 2", n)
	}
}
