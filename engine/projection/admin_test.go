package projection

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventd/eventd/engine"
	"github.com/eventd/eventd/engine/reducer"
)

func TestCreateRefusesBadDefinitions(t *testing.T) {
	e := newEnv(t, Options{noSystem: true})
	long := strings.Repeat("x", 201)
	cases := map[string]struct {
		d     Definition
		cause error
	}{
		"system id":        {d: Definition{ID: "$mine", Name: "n", Kind: KindCount}},
		"bad id":           {d: Definition{ID: "a b", Name: "n", Kind: KindCount}},
		"long id":          {d: Definition{ID: long, Name: "n", Kind: KindCount}},
		"no name":          {d: Definition{ID: "x", Kind: KindCount}},
		"long name":        {d: Definition{ID: "x", Name: long, Kind: KindCount}},
		"no kind":          {d: Definition{ID: "x", Name: "n"}},
		"kind system":      {d: Definition{ID: "x", Name: "n", Kind: KindSystem}},
		"unknown kind":     {d: Definition{ID: "x", Name: "n", Kind: "sum"}},
		"bad event type":   {d: Definition{ID: "x", Name: "n", Kind: KindCount, EventTypes: []string{"1A"}}, cause: engine.ErrInvalidEventType},
		"type twice":       {d: Definition{ID: "x", Name: "n", Kind: KindCount, EventTypes: []string{"A", "A"}}},
		"bad prefix":       {d: Definition{ID: "x", Name: "n", Kind: KindCount, StreamPrefix: "a b"}},
		"system prefix":    {d: Definition{ID: "x", Name: "n", Kind: KindCount, StreamPrefix: "$com"}},
		"keyBy on count":   {d: Definition{ID: "x", Name: "n", Kind: KindCount, KeyBy: "eventData.a"}},
		"reducer on count": {d: Definition{ID: "x", Name: "n", Kind: KindCount, Reducer: "counter"}},
		"keyBy metadata":   {d: Definition{ID: "x", Name: "n", Kind: KindState, KeyBy: "metadata.a"}},
		"keyBy empty path": {d: Definition{ID: "x", Name: "n", Kind: KindState, KeyBy: "eventData."}},
		"keyBy empty part": {d: Definition{ID: "x", Name: "n", Kind: KindState, KeyBy: "eventData.a..b"}},
		"unknown reducer":  {d: Definition{ID: "x", Name: "n", Kind: KindState, Reducer: "nope"}, cause: ErrUnknownReducer},
		"bad startFrom":    {d: Definition{ID: "x", Name: "n", Kind: KindCount, StartFrom: "later"}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, _, err := e.m.Create(context.Background(), c.d)
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("want ErrInvalid, got %v", err)
			}
			if c.cause != nil && !errors.Is(err, c.cause) {
				t.Fatalf("want %v, got %v", c.cause, err)
			}
		})
	}
	if list, _ := e.m.List(); len(list) != 0 {
		t.Fatalf("refused definitions left projections: %+v", list)
	}
	if e.st.Head() != 0 {
		t.Fatalf("refused definitions were journaled: head %d", e.st.Head())
	}
}

func TestCreateIsIdempotentPerID(t *testing.T) {
	e := newEnv(t, Options{noSystem: true})
	d := Definition{ID: "x", Name: "n", Kind: KindCount, EventTypes: []string{"A", "B"}}
	first := e.create(d)
	d.EventTypes = []string{"B", "A"} // the same set
	again, created, err := e.m.Create(context.Background(), d)
	if err != nil || created || again.ID != "x" || !again.CreatedAt.Equal(first.CreatedAt) {
		t.Fatalf("same definition again: %+v %v %v", again, created, err)
	}
	if got := again.EventTypes; len(got) != 2 || got[0] != "A" {
		t.Fatalf("the answer must be the stored definition: %v", got)
	}
	d.Name = "other"
	if _, _, err := e.m.Create(context.Background(), d); !errors.Is(err, ErrExists) {
		t.Fatalf("another definition under the id: %v", err)
	}
	if e.st.Head() != 1 {
		t.Fatalf("only the first create is journaled: head %d", e.st.Head())
	}
	// No id: the manager makes a fresh one each time.
	a := e.create(Definition{Name: "n", Kind: KindCount})
	b := e.create(Definition{Name: "n", Kind: KindCount})
	if a.ID == b.ID || engine.ValidateClientStreamID(a.ID) != nil {
		t.Fatalf("made ids %q and %q", a.ID, b.ID)
	}
}

func TestPauseResume(t *testing.T) {
	e := newEnv(t, Options{})
	id := e.create(Definition{ID: "p", Name: "n", Kind: KindCount}).ID
	first := e.add("a-1", "A", M{})
	e.wait(id, first)
	ctx := context.Background()
	in, err := e.m.Pause(ctx, id)
	if err != nil || in.Status != StatusPaused {
		t.Fatalf("pause: %+v %v", in, err)
	}
	head := e.st.Head()
	if _, err := e.m.Pause(ctx, id); err != nil || e.st.Head() != head {
		t.Fatalf("pausing a paused projection must change nothing: %v, head %d → %d", err, head, e.st.Head())
	}
	var last uint64
	for range 3 {
		last = e.add("a-1", "A", M{})
	}
	time.Sleep(200 * time.Millisecond)
	in = e.get(id)
	if in.LastProcessed >= last || in.Lag < 3 || in.Status != StatusPaused {
		t.Fatalf("a paused projection moved: %+v", in)
	}
	if total, _ := e.counts(id); total != 1 {
		t.Fatalf("paused total %v", total)
	}
	// A paused projection stays paused across a restart.
	e.reopen()
	if in := e.get(id); in.Status != StatusPaused {
		t.Fatalf("after restart: %+v", in)
	}
	if in, err := e.m.Resume(ctx, id); err != nil || in.Status != StatusActive {
		t.Fatalf("resume: %+v %v", in, err)
	}
	e.wait(id, last)
	if total, _ := e.counts(id); total != 4 {
		t.Fatalf("resumed total %v", total)
	}
	for _, sys := range []string{ByEventType, ByCategory, StreamStats} {
		if _, err := e.m.Pause(ctx, sys); !errors.Is(err, ErrSystem) {
			t.Fatalf("pause %s: %v", sys, err)
		}
		if _, err := e.m.Resume(ctx, sys); !errors.Is(err, ErrSystem) {
			t.Fatalf("resume %s: %v", sys, err)
		}
		if err := e.m.Delete(ctx, sys); !errors.Is(err, ErrSystem) {
			t.Fatalf("delete %s: %v", sys, err)
		}
	}
	if _, err := e.m.Pause(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("pause of an unknown projection: %v", err)
	}
}

func TestResetRebuilds(t *testing.T) {
	e := newEnv(t, Options{})
	id := e.create(Definition{ID: "r", Name: "n", Kind: KindState, Reducer: "counter"}).ID
	for i := range 50 {
		e.add("s-"+string(rune('a'+i%5)), "A", M{})
	}
	last := e.add("s-a", "A", M{})
	e.wait(id, last)
	e.wait(ByEventType, last)
	ctx := context.Background()
	for _, rid := range []string{id, ByEventType} {
		in, err := e.m.Reset(ctx, rid)
		if err != nil {
			t.Fatal(err)
		}
		if in.Status != StatusRebuilding && in.LastProcessed < last {
			t.Fatalf("%s just reset: %+v", rid, in)
		}
	}
	e.wait(id, e.st.Head()) // the reset event: the status is active once it is processed
	e.wait(ByEventType, last)
	if v := e.value(id, "s-a"); v["n"] != 11.0 || v["v"] != 11.0 {
		t.Fatalf("after reset s-a: %v", v)
	}
	if in := e.get(id); in.Status != StatusActive || in.Keys != 5 || in.EventsProcessed != 51 {
		t.Fatalf("after reset: %+v", in)
	}
	if v := e.value(ByEventType, "A"); v["count"] != 51.0 {
		t.Fatalf("$by-event-type after reset: %v", v)
	}
	// A paused projection reset stays paused, and empty.
	if _, err := e.m.Pause(ctx, id); err != nil {
		t.Fatal(err)
	}
	in, err := e.m.Reset(ctx, id)
	if err != nil || in.Status != StatusPaused || in.Keys != 0 || in.LastProcessed != 0 {
		t.Fatalf("reset while paused: %+v %v", in, err)
	}
	// Resets survive a restart (the generation is the Reset event's).
	if _, err := e.m.Resume(ctx, id); err != nil {
		t.Fatal(err)
	}
	e.wait(id, last)
	e.reopen()
	last = e.add("s-a", "A", M{})
	e.wait(id, last)
	if v := e.value(id, "s-a"); v["n"] != 12.0 || v["v"] != 12.0 {
		t.Fatalf("after reset and restart s-a: %v", v)
	}
}

func TestDelete(t *testing.T) {
	e := newEnv(t, Options{noSystem: true})
	id := e.create(Definition{ID: "d", Name: "n", Kind: KindState}).ID
	last := e.add("a-1", "A", M{"x": 1})
	e.wait(id, last)
	ctx := context.Background()
	waitErr := make(chan error, 1)
	go func() { waitErr <- e.m.Wait(ctx, id, last+100) }()
	time.Sleep(50 * time.Millisecond)
	if err := e.m.Delete(ctx, id); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-waitErr:
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("a waiter of a deleted projection: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a waiter of a deleted projection was not woken")
	}
	if _, err := e.m.Get(id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after delete: %v", err)
	}
	if _, err := e.m.Lookup(id, "a-1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Lookup after delete: %v", err)
	}
	if err := e.m.Delete(ctx, id); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if n := e.storedKeys(id); n != 0 {
		t.Fatalf("%d keys of the deleted projection remain in the store", n)
	}
	// The id can be used again, from nothing.
	e.create(Definition{ID: id, Name: "n", Kind: KindCount})
	last = e.add("a-1", "B", M{})
	e.wait(id, last)
	if total, by := e.counts(id); total != 2 || by["A"] != 1 {
		t.Fatalf("recreated: %v %v", total, by)
	}
	e.reopen()
	if _, err := e.m.Get(id); err != nil {
		t.Fatalf("recreated after restart: %v", err)
	}
}

// toggle fails on type Bad while failing is set.
type toggle struct{}

var failing atomic.Bool

func (toggle) Name() string     { return "toggle" }
func (toggle) Revision() string { return "1" }
func (toggle) Apply(st reducer.State, e *engine.Event) (reducer.State, error) {
	if e.Type == "Bad" && failing.Load() {
		return nil, fmt.Errorf("%w: a bad event", reducer.ErrApply)
	}
	return counter{}.Apply(st, e)
}

func TestErrorStatus(t *testing.T) {
	e := newEnv(t, Options{noSystem: true})
	e.reg.Register(toggle{}, "")
	failing.Store(true)
	t.Cleanup(func() { failing.Store(false) })
	id := e.create(Definition{ID: "f", Name: "n", Kind: KindState, Reducer: "toggle"}).ID
	other := e.create(Definition{ID: "other", Name: "n", Kind: KindCount}).ID
	e.add("a-1", "A", M{})
	bad := e.add("a-1", "Bad", M{})
	last := e.add("a-1", "A", M{})
	e.wait(other, last) // the others carry on
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := e.m.Wait(ctx, id, last); !errors.Is(err, ErrFailed) {
		t.Fatalf("waiting on a failed projection: %v", err)
	}
	check := func() {
		t.Helper()
		in := e.get(id)
		if in.Status != StatusError || in.LastProcessed != bad-1 || !strings.Contains(in.Error, "position "+itoa(int(bad))) {
			t.Fatalf("failed projection: %+v", in)
		}
		if v := e.value(id, "a-1"); v["n"] != 1.0 {
			t.Fatalf("state before the failing event: %v", v)
		}
	}
	check()
	if _, err := e.m.Pause(ctx, id); !errors.Is(err, ErrFailed) {
		t.Fatalf("pause of a failed projection: %v", err)
	}
	if _, err := e.m.Resume(ctx, id); !errors.Is(err, ErrFailed) {
		t.Fatalf("resume of a failed projection: %v", err)
	}
	e.reopen() // the error is persisted
	check()
	failing.Store(false)
	in, err := e.m.Reset(ctx, id)
	if err != nil || in.Error != "" || in.Status == StatusError {
		t.Fatalf("reset clears the error: %+v %v", in, err)
	}
	e.wait(id, e.st.Head()) // the reset event: the status is active once it is processed
	if v := e.value(id, "a-1"); v["n"] != 3.0 || v["v"] != 3.0 {
		t.Fatalf("after the reset: %v", v)
	}
	if in := e.get(id); in.Status != StatusActive {
		t.Fatalf("after the reset: %+v", in)
	}
}
