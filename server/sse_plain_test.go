package server

import (
	"encoding/json"
	"testing"
	"time"
)

// TestSSEPlainMessages: ?messages=plain leaves out the event: line (the
// type is in the data), on both subscription routes; the default stays
// typed, and a bad value is 400.
func TestSSEPlainMessages(t *testing.T) {
	e := newEnv(t, Config{})
	e.add("p-1", "error", M{"n": 1}) // a type a browser would route to onerror
	e.add("p-1", "Opened", M{"n": 2})

	for _, c := range []struct {
		path  string
		plain bool
	}{
		{"/api/subscribe?fromPosition=0&messages=plain", true},
		{"/api/streams/p-1/subscribe?fromVersion=0&messages=plain", true},
		{"/api/subscribe?fromPosition=0&messages=typed", false},
		{"/api/streams/p-1/subscribe?fromVersion=0", false},
	} {
		sub := e.subscribe(t, c.path)
		var types []string
		deadline := time.After(10 * time.Second)
		for len(types) < 2 {
			select {
			case m, ok := <-sub.msgs:
				if !ok {
					t.Fatalf("%s: ended", c.path)
				}
				if m.data == "" {
					continue
				}
				var ev struct {
					EventType string `json:"eventType"`
					Position  json.Number
				}
				if err := json.Unmarshal([]byte(m.data), &ev); err != nil {
					t.Fatalf("%s: %v: %s", c.path, err, m.data)
				}
				if c.plain && m.event != "" {
					t.Errorf("%s: event: %q in a plain message", c.path, m.event)
				}
				if !c.plain && m.event != ev.EventType {
					t.Errorf("%s: event: %q, data's type %q", c.path, m.event, ev.EventType)
				}
				if m.id != ev.Position.String() {
					t.Errorf("%s: id %q, position %s", c.path, m.id, ev.Position)
				}
				types = append(types, ev.EventType)
			case <-deadline:
				t.Fatalf("%s: got %v", c.path, types)
			}
		}
		if types[0] != "error" || types[1] != "Opened" {
			t.Errorf("%s: types %v", c.path, types)
		}
		sub.cancel()
	}
	e.get("/api/subscribe?messages=json").fail(t, 400, codeBadRequest)
	e.get("/api/streams/p-1/subscribe?messages=").fail(t, 400, codeBadRequest)
	e.get("/api/subscribe?messages=plain&messages=typed").fail(t, 400, codeBadRequest)
}
