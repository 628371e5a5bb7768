package reducer

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/eventd/eventd/engine"
)

func ev(v uint64, typ, data string) engine.Event {
	return engine.Event{Version: v, Type: typ, Data: []byte(data), Timestamp: time.Unix(1700000000, int64(v)*int64(time.Millisecond)).UTC()}
}

func TestDefaultReducer(t *testing.T) {
	evs := []engine.Event{
		ev(1, "UserCreated", `{"name":"Ann","email":"a@x","n":1.50,"tags":{"a":1}}`),
		ev(2, "UserUpdated", `{"updates":{"name":"Bo","tags":{"b":2,"a":null}}}`),
		ev(3, "UserUpdated", `{"email":"b@x"}`), // no "updates": eventData itself
		ev(4, "Noted", `{"note":"x"}`),
		ev(5, "UserDeleted", `{"ignored":true}`),
	}
	var st State
	var err error
	for i := range evs {
		if st, err = Default.Apply(st, &evs[i]); err != nil {
			t.Fatal(err)
		}
	}
	want := State{
		"name": "Bo", "email": "b@x", "n": json.Number("1.50"), "tags": map[string]any{"b": json.Number("2")}, "note": "x",
		"createdAt": "2023-11-14T22:13:20.001Z", "updatedAt": "2023-11-14T22:13:20.003Z",
		"deleted": true, "deletedAt": "2023-11-14T22:13:20.005Z",
	}
	if !reflect.DeepEqual(st, want) {
		t.Fatalf("state\n got %v\nwant %v", st, want)
	}
	b, err := EncodeState(nil, st)
	if err != nil || string(b) != `{"createdAt":"2023-11-14T22:13:20.001Z","deleted":true,"deletedAt":"2023-11-14T22:13:20.005Z","email":"b@x","n":1.50,"name":"Bo","note":"x","tags":{"b":2},"updatedAt":"2023-11-14T22:13:20.003Z"}` {
		t.Fatalf("encoded %s, %v", b, err)
	}
	bad := ev(6, "X", `[1]`)
	if _, err := Default.Apply(State{}, &bad); !errors.Is(err, ErrApply) {
		t.Fatalf("array eventData: %v, want ErrApply", err)
	}
}

func TestCategory(t *testing.T) {
	for id, want := range map[string]string{"user_123": "user", "order-9": "order", "a-b_c": "a", "plain": "plain", "x_": "x", "$commands": "$commands"} {
		if got := Category(id); got != want {
			t.Errorf("Category(%q) = %q, want %q", id, got, want)
		}
	}
}

type named struct {
	name, rev string
}

func (n named) Name() string                                  { return n.name }
func (n named) Revision() string                              { return n.rev }
func (n named) Apply(s State, _ *engine.Event) (State, error) { return s, nil }

func TestRegistry(t *testing.T) {
	r := NewRegistry()
	if r.ForStream("acct-1") != Default {
		t.Fatal("an empty registry must give the default reducer")
	}
	a1 := named{"a", "1"}
	r.Register(a1, "acct")
	if got := r.ForStream("acct-1"); got != a1 {
		t.Fatalf("ForStream(acct-1) = %v", got)
	}
	if got := r.ForStream("other-1"); got != Default {
		t.Fatalf("ForStream(other-1) = %v", got)
	}
	// Re-registering under another category moves the binding.
	a2 := named{"a", "2"}
	r.Register(a2, "bank")
	if r.ForStream("acct-1") != Default || r.ForStream("bank-1") != a2 {
		t.Fatal("a re-registered reducer keeps its old category binding")
	}
	if got, ok := r.Lookup("a"); !ok || got != a2 {
		t.Fatalf("Lookup(a) = %v, %v", got, ok)
	}
	if _, ok := r.Lookup("nope"); ok {
		t.Fatal("Lookup of an unknown name succeeded")
	}
	names := []string{}
	for _, e := range r.List() {
		names = append(names, e.Reducer.Name()+":"+e.Category)
	}
	if !reflect.DeepEqual(names, []string{"a:bank", "default:"}) {
		t.Fatalf("List = %v", names)
	}
	// Binding another reducer to a category displaces the first from it.
	b := named{"b", "1"}
	r.Register(b, "bank")
	names = names[:0]
	for _, e := range r.List() {
		names = append(names, e.Reducer.Name()+":"+e.Category)
	}
	if !reflect.DeepEqual(names, []string{"a:", "b:bank", "default:"}) || r.ForStream("bank-1") != b {
		t.Fatalf("after displacing: List = %v", names)
	}
}

func TestReplayOverStore(t *testing.T) {
	s, err := engine.Open(t.TempDir(), engine.Options{Fsync: engine.FsyncNever})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	// More events than one page of the source, interleaved with another stream.
	const n = replayPage + 250
	for i := 0; i < n; i += 50 {
		var props []engine.Proposed
		for j := i; j < min(i+50, n); j++ {
			props = append(props, engine.Proposed{Type: "Counted", Data: []byte(`{"last":` + itoa(j+1) + `}`)})
		}
		if _, err := s.Append(ctx, "c-1", engine.Any, props); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Append(ctx, "other-1", engine.Any, []engine.Proposed{{Type: "Noise", Data: []byte(`{}`)}}); err != nil {
			t.Fatal(err)
		}
	}
	var seen []uint64
	res, err := Replay(s, "c-1", nil, 0, n, Default, func(e *engine.Event) error { seen = append(seen, e.Version); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if res.Version != n || res.Applied != n || len(seen) != n || seen[n-1] != n || res.State["last"] != json.Number(itoa(n)) {
		t.Fatalf("full replay: version %d applied %d seen %d state %v", res.Version, res.Applied, len(seen), res.State)
	}
	// From a state at version 7 to 9: two events folded onto it.
	res, err = Replay(s, "c-1", State{"kept": true}, 7, 9, Default, nil)
	if err != nil || res.Applied != 2 || res.Version != 9 || res.State["last"] != json.Number("9") || res.State["kept"] != true {
		t.Fatalf("partial replay: %+v, %v", res, err)
	}
	// Past the end: stops at the stream's end.
	res, err = Replay(s, "c-1", nil, n-1, n+10, Default, nil)
	if err != nil || res.Version != n || res.Applied != 1 {
		t.Fatalf("replay past the end: %+v, %v", res, err)
	}
	// An error from each ends the replay and comes back as is.
	stop := errors.New("stop")
	if _, err := Replay(s, "c-1", nil, 0, n, Default, func(*engine.Event) error { return stop }); err != stop {
		t.Fatalf("each's error: %v", err)
	}
	// An unknown stream: the empty state, nothing applied.
	res, err = Replay(s, "none-1", nil, 0, 5, Default, nil)
	if err != nil || res.Applied != 0 || len(res.State) != 0 || res.State == nil {
		t.Fatalf("unknown stream: %+v, %v", res, err)
	}
}

func itoa(n int) string { return json.Number(jsonInt(n)).String() }

func jsonInt(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestFormatTime(t *testing.T) {
	for _, ts := range []time.Time{time.Unix(0, 0), time.Unix(1700000000, 123456789), time.Date(2024, 1, 15, 10, 30, 0, 999999999, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2024, 6, 1, 12, 0, 0, 0, time.FixedZone("X", 3600))} {
		if got, want := FormatTime(ts), ts.UTC().Format(TimeLayout); got != want {
			t.Errorf("FormatTime(%v) = %s, want %s", ts, got, want)
		}
	}
}
