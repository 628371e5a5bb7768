package projection

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/eventd/eventd/engine"
)

// badUpcaster cannot upcast events of type Bad.
type badUpcaster struct{}

func (badUpcaster) Upcast(e *engine.Event, _ []byte) ([]byte, uint32, bool, error) {
	if e.Type == "Bad" {
		return nil, 0, false, errors.New("split of a number")
	}
	return nil, 0, false, nil
}

// An event its chain cannot upcast stops the state projections that read
// it, not the count and system ones, which never look at eventData (found
// by a review).
func TestUpcastFailureStopsOnlyStateProjections(t *testing.T) {
	e := newEnv(t, Options{})
	e.st.SetUpcaster(badUpcaster{})
	e.create(Definition{ID: "cnt", Name: "cnt", Kind: KindCount})
	e.create(Definition{ID: "st", Name: "st", Kind: KindState})
	e.add("a-1", "Good", map[string]any{"x": 1})
	e.add("a-1", "Bad", map[string]any{"x": 2})
	last := e.add("a-1", "Good", map[string]any{"x": 3})
	e.wait("cnt", last)
	e.wait(ByEventType, last)
	if total, by := e.counts("cnt"); total != 3 || by["Bad"] != 1 {
		t.Fatalf("count projection: total %v, by type %v", total, by)
	}
	deadline := time.Now().Add(10 * time.Second)
	for e.get("st").Status != StatusError {
		if time.Now().After(deadline) {
			t.Fatalf("state projection: %+v, want error", e.get("st"))
		}
		time.Sleep(5 * time.Millisecond)
	}
	if in := e.get("st"); !strings.Contains(in.Error, "upcast") {
		t.Fatalf("state projection error %q", in.Error)
	}
}
