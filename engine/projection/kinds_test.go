package projection

import (
	"fmt"
	"testing"
	"time"

	"github.com/eventd/eventd/engine/reducer"
)

func TestCountProjection(t *testing.T) {
	e := newEnv(t, Options{noSystem: true})
	e.add("a-1", "A", M{})
	id := e.create(Definition{ID: "cnt", Name: "n", Kind: KindCount}).ID
	e.add("a-1", "B", M{})
	e.add("$sys", "A", M{}) // user projections skip system streams
	last := e.add("b-1", "A", M{})
	e.wait(id, last)
	total, by := e.counts(id)
	if total != 3 || by["A"] != 2 || by["B"] != 1 || len(by) != 2 {
		t.Fatalf("count: total %v byType %v", total, by)
	}
	in := e.get(id)
	if in.EventsProcessed != 3 || in.LastProcessed != last || in.Lag != in.Head-in.LastProcessed || in.Status != StatusActive {
		t.Fatalf("info %+v", in)
	}
	// Queried, a count projection's entries are its types.
	if v := e.value(id, "A"); v["count"] != 2.0 {
		t.Fatalf("entry A: %v", v)
	}
}

func TestFilters(t *testing.T) {
	e := newEnv(t, Options{noSystem: true})
	types := e.create(Definition{ID: "types", Name: "t", Kind: KindCount, EventTypes: []string{"B", "C"}}).ID
	prefix := e.create(Definition{ID: "prefix", Name: "p", Kind: KindCount, StreamPrefix: "order-"}).ID
	both := e.create(Definition{ID: "both", Name: "b", Kind: KindCount, StreamPrefix: "order-", EventTypes: []string{"A"}}).ID
	for i := range 30 {
		stream := []string{"order-1", "user-1", "order-2"}[i%3]
		e.add(stream, []string{"A", "B", "C", "D"}[i%4], M{})
	}
	last := e.add("other", "Z", M{}) // matches none: positions still advance
	for _, id := range []string{types, prefix, both} {
		e.wait(id, last)
		if in := e.get(id); in.LastProcessed != last || in.Lag != 0 {
			t.Fatalf("%s: a filtered projection must reach the head: %+v", id, in)
		}
	}
	want := func(id string, wantTotal float64, wantBy map[string]float64) {
		t.Helper()
		total, by := e.counts(id)
		if total != wantTotal || fmt.Sprint(by) != fmt.Sprint(wantBy) {
			t.Fatalf("%s: total %v byType %v, want %v %v", id, total, by, wantTotal, wantBy)
		}
	}
	// i%3 != 1: order streams (20 of 30); types by i%4.
	var tB, tC, pA, pB, pC, pD float64
	for i := range 30 {
		typ := "ABCD"[i%4]
		if typ == 'B' {
			tB++
		}
		if typ == 'C' {
			tC++
		}
		if i%3 != 1 {
			switch typ {
			case 'A':
				pA++
			case 'B':
				pB++
			case 'C':
				pC++
			case 'D':
				pD++
			}
		}
	}
	want(types, tB+tC, map[string]float64{"B": tB, "C": tC})
	want(prefix, pA+pB+pC+pD, map[string]float64{"A": pA, "B": pB, "C": pC, "D": pD})
	want(both, pA, map[string]float64{"A": pA})
}

func TestFilteredProjectionReachesHeadPastScanBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("appends 1.1M events")
	}
	e := newEnv(t, Options{noSystem: true})
	id := e.create(Definition{ID: "rare", Name: "r", Kind: KindCount, EventTypes: []string{"Rare"}}).ID
	evs := make([]proposed, 10000)
	for i := range evs {
		evs[i] = proposed{typ: "Common"}
	}
	for range 110 { // past engine's scan budget of 1,048,576 per read
		e.batch("s-1", evs)
	}
	last := e.add("s-2", "Rare", M{})
	e.wait(id, last)
	if total, _ := e.counts(id); total != 1 {
		t.Fatalf("total %v", total)
	}
}

func TestStartFromNow(t *testing.T) {
	e := newEnv(t, Options{noSystem: true})
	e.add("a-1", "A", M{})
	e.add("a-1", "A", M{})
	in := e.create(Definition{ID: "now", Name: "n", Kind: KindCount, StartFrom: StartNow})
	if in.LastProcessed < 2 || in.StartFrom != StartNow {
		t.Fatalf("startFrom now: %+v", in)
	}
	last := e.add("a-1", "A", M{})
	e.wait("now", last)
	if total, _ := e.counts("now"); total != 1 {
		t.Fatalf("startFrom now counted %v events, want 1", total)
	}
}

func TestStateProjectionByStream(t *testing.T) {
	e := newEnv(t, Options{noSystem: true})
	id := e.create(Definition{ID: "users", Name: "u", Kind: KindState, StreamPrefix: "user-"}).ID
	e.add("user-1", "UserCreated", M{"name": "Ann", "email": "a@x"})
	e.add("user-2", "UserCreated", M{"name": "Bob"})
	e.add("order-1", "OrderCreated", M{"total": 3})
	e.add("user-1", "UserUpdated", M{"updates": M{"name": "Ann Two"}})
	last := e.add("user-2", "UserDeleted", M{})
	e.wait(id, last)
	u1 := e.value(id, "user-1")
	if u1["name"] != "Ann Two" || u1["email"] != "a@x" || u1["createdAt"] == nil || u1["updatedAt"] == nil {
		t.Fatalf("user-1: %v", u1)
	}
	if u2 := e.value(id, "user-2"); u2["deleted"] != true {
		t.Fatalf("user-2: %v", u2)
	}
	if _, err := e.m.Lookup(id, "order-1"); err == nil {
		t.Fatal("order-1 is outside the prefix")
	}
	if in := e.get(id); in.Keys != 2 || in.EventsProcessed != 4 {
		t.Fatalf("info %+v", in)
	}
	// The value equals a replay of the stream with the same reducer.
	res, err := reducer.Replay(e.st, "user-1", nil, 0, 10, reducer.Default, nil)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := reducer.EncodeState(nil, res.State)
	if en, _ := e.m.Lookup(id, "user-1"); string(en.Value) != string(want) {
		t.Fatalf("user-1 is %s, a replay gives %s", en.Value, want)
	}
}

func TestStateProjectionKeyBy(t *testing.T) {
	e := newEnv(t, Options{noSystem: true})
	id := e.create(Definition{ID: "byemail", Name: "e", Kind: KindState, EventTypes: []string{"Signed"}, KeyBy: "eventData.who.email"}).ID
	e.add("s-1", "Signed", M{"who": M{"email": "a@x"}, "n": 1})
	e.add("s-2", "Signed", M{"who": M{"email": "b@x"}, "n": 2})
	e.add("s-3", "Signed", M{"who": M{"email": "a@x"}, "n": 3})
	e.add("s-4", "Signed", M{"who": M{"email": 42}, "n": 4})        // numbers key as written
	e.add("s-5", "Signed", M{"who": M{"email": true}, "n": 5})      // skipped: not a string or number
	e.add("s-6", "Signed", M{"who": "nobody", "n": 6})              // skipped: no such field
	e.add("s-7", "Signed", M{"n": 7})                               // skipped
	e.add("s-8", "Signed", M{"who": M{"email": ""}, "n": 8})        // skipped: empty key
	last := e.add("s-9", "Signed", M{"who": M{"email": "c\"q\\u"}}) // escapes
	e.wait(id, last)
	if v := e.value(id, "a@x"); v["n"] != 3.0 {
		t.Fatalf("a@x: %v", v)
	}
	if v := e.value(id, "42"); v["n"] != 4.0 {
		t.Fatalf("42: %v", v)
	}
	if _, err := e.m.Lookup(id, `c"q\u`); err != nil {
		t.Fatalf("escaped key: %v", err)
	}
	if in := e.get(id); in.Keys != 4 || in.EventsProcessed != 5 {
		t.Fatalf("keys %d events %d, want 4 and 5", in.Keys, in.EventsProcessed)
	}
}

func TestStateProjectionReducers(t *testing.T) {
	e := newEnv(t, Options{noSystem: true})
	// Named reducer.
	named := e.create(Definition{ID: "named", Name: "n", Kind: KindState, StreamPrefix: "x-", Reducer: "counter"}).ID
	// No reducer: the stream's own at apply time (picky for category picky).
	own := e.create(Definition{ID: "own", Name: "o", Kind: KindState}).ID
	e.add("x-1", "A", M{"a": 1})
	e.add("x-1", "B", M{"b": 2})
	e.add("picky-1", "A", M{"p": 1})
	last := e.add("x-1", "C", M{"c": 3})
	e.wait(named, last)
	e.wait(own, last)
	if v := e.value(named, "x-1"); v["n"] != 3.0 || v["v"] != 3.0 {
		t.Fatalf("named reducer: %v", v)
	}
	if v := e.value(own, "x-1"); v["a"] != 1.0 || v["c"] != 3.0 {
		t.Fatalf("default reducer: %v", v)
	}
	if v := e.value(own, "picky-1"); v["p"] != 1.0 {
		t.Fatalf("category reducer: %v", v)
	}
}

func TestSystemProjections(t *testing.T) {
	e := newEnv(t, Options{})
	t0 := time.Now().Add(-time.Second)
	p1 := e.add("cat-1", "A", M{})
	e.add("cat_2", "B", M{})
	p3 := e.add("cat-1", "A", M{})
	e.add("other", "A", M{})
	last := e.add("$sys-1", "S", M{}) // system projections see system streams
	for _, id := range []string{ByEventType, ByCategory, StreamStats} {
		e.wait(id, last)
		if in := e.get(id); in.Kind != KindSystem || in.Status != StatusActive {
			t.Fatalf("%s: %+v", id, in)
		}
	}
	if v := e.value(ByEventType, "A"); v["count"] != 3.0 {
		t.Fatalf("$by-event-type A: %v", v)
	}
	if v := e.value(ByEventType, "S"); v["count"] != 1.0 {
		t.Fatalf("$by-event-type S: %v", v)
	}
	if v := e.value(ByCategory, "cat"); v["events"] != 3.0 || v["streams"] != 2.0 {
		t.Fatalf("$by-category cat: %v", v)
	}
	if v := e.value(ByCategory, "$sys"); v["events"] != 1.0 || v["streams"] != 1.0 {
		t.Fatalf("$by-category $sys: %v", v)
	}
	v := e.value(StreamStats, "cat-1")
	if v["version"] != 2.0 || v["events"] != 2.0 || v["firstPosition"] != float64(p1) || v["lastPosition"] != float64(p3) {
		t.Fatalf("$stream-stats cat-1: %v", v)
	}
	c, err1 := time.Parse(reducer.TimeLayout, v["createdAt"].(string))
	u, err2 := time.Parse(reducer.TimeLayout, v["updatedAt"].(string))
	if err1 != nil || err2 != nil || c.After(u) || c.Before(t0) {
		t.Fatalf("$stream-stats times: %v", v)
	}
	if in := e.get(StreamStats); in.Keys != 4 {
		t.Fatalf("$stream-stats keys %d, want 4", in.Keys)
	}
}

// M keeps JSON literals short.
type M = map[string]any

type proposed struct {
	typ  string
	data string
}

// batch appends events to stream in one append.
func (e *env) batch(stream string, evs []proposed) uint64 {
	e.t.Helper()
	ps := make([]engineProposed, len(evs))
	for i, p := range evs {
		d := p.data
		if d == "" {
			d = "{}"
		}
		ps[i] = engineProposed{Type: p.typ, Data: []byte(d)}
	}
	return e.appendAll(stream, ps)
}
