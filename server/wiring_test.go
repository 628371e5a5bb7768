package server

import (
	"testing"
	"time"

	"github.com/eventd/eventd/engine"
	"github.com/eventd/eventd/engine/reducer"
)

// countReducer counts events into {"n": N}.
type countReducer struct{}

func (countReducer) Name() string     { return "counter" }
func (countReducer) Revision() string { return "1" }
func (countReducer) Apply(st reducer.State, e *engine.Event) (reducer.State, error) {
	if st == nil {
		st = reducer.State{}
	}
	n, _ := st["n"].(int)
	st["n"] = n + 1
	return st, nil
}

type applyFails struct{ countReducer }

func (applyFails) Name() string { return "fails" }
func (applyFails) Apply(reducer.State, *engine.Event) (reducer.State, error) {
	return nil, reducer.ErrApply
}

// Replay uses the reducer the wiring registers: by category, or by name.
func TestReplayUsesTheRegistry(t *testing.T) {
	reg := reducer.NewRegistry()
	reg.Register(countReducer{}, "cnt")
	reg.Register(applyFails{}, "")
	e := newEnv(t, Config{Reducers: reg, TotalCommands: func() uint64 { return 42 }})
	e.add("cnt-1", "A", M{"x": 1})
	e.add("cnt-1", "B", M{"x": 2})
	if st := obj(t, e.post("/api/events/cnt-1/replay", M{}).ok(t, 200)["finalState"]); num(t, st["n"]) != 2 || len(st) != 1 {
		t.Fatalf("category reducer: %v", st)
	}
	if st := obj(t, e.post("/api/events/cnt-1/replay", M{"reducer": "default"}).ok(t, 200)["finalState"]); num(t, st["x"]) != 2 {
		t.Fatalf("named default reducer: %v", st)
	}
	e.post("/api/events/cnt-1/replay", M{"reducer": "fails"}).fail(t, 400, codeBadRequest)
	if got := e.get("/health").v["totalCommands"]; num(t, got) != 42 {
		t.Fatalf("totalCommands %v, want the wired 42", got)
	}
}

// The server's fast time renderer and the reducers' agree.
func TestTimeFormatsAgree(t *testing.T) {
	for _, ts := range []time.Time{time.Unix(0, 0), time.Unix(1700000000, 123456789), time.Date(2024, 1, 15, 10, 30, 0, 999999999, time.UTC)} {
		b := appendTime(nil, ts)
		if got, want := string(b[1:len(b)-1]), reducer.FormatTime(ts); got != want {
			t.Fatalf("appendTime %s, reducer.FormatTime %s", got, want)
		}
	}
}
