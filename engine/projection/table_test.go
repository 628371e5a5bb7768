package projection

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/eventd/eventd/engine/reducer"
)

func TestCodecsRoundTrip(t *testing.T) {
	check := func(name string, b []byte, err error) {
		t.Helper()
		if err != nil || !json.Valid(b) {
			t.Fatalf("%s: %s %v", name, b, err)
		}
	}
	b, err := counterCodec{}.encode(nil, 42)
	check("counter", b, err)
	if n, err := (counterCodec{}).decode(b); err != nil || n != 42 {
		t.Fatalf("counter: %d %v", n, err)
	}
	cs := catStats{7, 3}
	b, err = catCodec{}.encode(nil, cs)
	check("category", b, err)
	if v, err := (catCodec{}).decode(b); err != nil || v != cs {
		t.Fatalf("category: %+v %v", v, err)
	}
	ts := time.Date(2024, 1, 15, 10, 30, 0, 123_000_000, time.UTC).UnixNano()
	ss := streamStats{version: 5, events: 5, first: 10, last: 99, created: ts, updated: ts + 1e9}
	b, err = streamCodec{}.encode(nil, ss)
	check("stream", b, err)
	if string(b) != `{"version":5,"events":5,"firstPosition":10,"lastPosition":99,"createdAt":"2024-01-15T10:30:00.123Z","updatedAt":"2024-01-15T10:30:01.123Z"}` {
		t.Fatalf("stream stats encode as %s", b)
	}
	if v, err := (streamCodec{}).decode(b); err != nil || v != ss {
		t.Fatalf("stream: %+v %v", v, err)
	}
	st := reducer.State{"a": json.Number("1.50"), "b": []any{"x", nil, true}, "c": map[string]any{"d": "e"}}
	b, err = stateCodec{}.encode(nil, st)
	check("state", b, err)
	back, err := stateCodec{}.decode(b)
	if err != nil || fmt.Sprint(back) != fmt.Sprint(st) {
		t.Fatalf("state: %v %v", back, err)
	}
	cp := stateCodec{}.clone(st)
	cp["c"].(map[string]any)["d"] = "changed"
	if st["c"].(map[string]any)["d"] != "e" {
		t.Fatal("clone shares memory with the original")
	}
	for _, ns := range []int64{0, -1e18, 1 << 62} {
		if got := appendTime(nil, ns); string(got) != `"`+reducer.FormatTime(time.Unix(0, ns))+`"` {
			t.Fatalf("appendTime(%d) = %s, want %s", ns, got, reducer.FormatTime(time.Unix(0, ns)))
		}
	}
}

// Readers run beside a runner that flushes after every few events into a
// tiny cache (the race detector watches the shared states), and never see
// a value go back. Consecutive flushes share keys (8 keys, 10 events each).
func TestConcurrentReaders(t *testing.T) {
	e := newEnv(t, Options{noSystem: true, FlushEvents: 10, FlushInterval: time.Millisecond, CacheEntries: 4})
	keys := []string{"s-0", "s-1", "s-2", "s-3", "s-4", "s-5", "s-6", "s-7"}
	// Half the events before the projection starts, so that it catches up
	// fast, changing states while earlier flushes are still encoding them.
	for i := range 4000 {
		e.add(keys[(i*5)%len(keys)], "A", M{})
	}
	id := e.create(Definition{ID: "c", Name: "c", Kind: KindState, Reducer: "counter"}).ID
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for r := range 4 {
		wg.Go(func() {
			seen := map[string]float64{}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				key := keys[(i+r)%len(keys)]
				var vals []Item
				if i%3 == 0 {
					p, err := e.m.Query(id, Query{Limit: 100})
					if err != nil {
						errs <- err
						return
					}
					vals = p.Items
				} else if en, err := e.m.Lookup(id, key); err == nil {
					vals = []Item{{Key: key, Value: en.Value}}
				}
				for _, it := range vals {
					var v struct{ N, V float64 }
					if err := json.Unmarshal(it.Value, &v); err != nil || v.N != v.V || v.N < seen[it.Key] {
						errs <- fmt.Errorf("%s = %s (seen n=%v before): %v", it.Key, it.Value, seen[it.Key], err)
						return
					}
					seen[it.Key] = v.N
				}
			}
		})
	}
	var last uint64
	for i := range 400 {
		last = e.add(keys[(i*5)%len(keys)], "A", M{})
	}
	e.wait(id, last)
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	for _, k := range keys {
		if v := e.value(id, k); v["n"] != 550.0 {
			t.Fatalf("%s: %v", k, v)
		}
	}
}
