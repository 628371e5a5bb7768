package projection

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// users makes a state projection over n user streams with names and ages.
func users(t *testing.T, opts Options, n int) (*env, string, uint64) {
	e := newEnv(t, opts)
	id := e.create(Definition{ID: "users", Name: "u", Kind: KindState, StreamPrefix: "user-"}).ID
	var last uint64
	for i := range n {
		last = e.add(fmt.Sprintf("user-%03d", i), "UserCreated", M{"name": []string{"ann", "bob", "cy"}[i%3], "age": i % 4, "vip": i%5 == 0, "note": nil,
			"tag": fmt.Sprintf("t\"%d", i%2), "addr": M{"city": "x"}})
	}
	e.wait(id, last)
	return e, id, last
}

func TestQueryList(t *testing.T) {
	e, id, _ := users(t, Options{noSystem: true}, 30)
	all := func(q Query) []string {
		t.Helper()
		var keys []string
		for pages := 0; ; pages++ {
			if pages > 100 {
				t.Fatal("paging does not end")
			}
			p, err := e.m.Query(id, q)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Items) > q.Limit {
				t.Fatalf("%d items for limit %d", len(p.Items), q.Limit)
			}
			for _, it := range p.Items {
				keys = append(keys, it.Key)
			}
			if !p.More {
				return keys
			}
			q.After = p.Next
		}
	}
	if keys := all(Query{Limit: 7}); len(keys) != 30 || keys[0] != "user-000" || keys[29] != "user-029" {
		t.Fatalf("all keys in order: %v", keys)
	}
	cases := map[string]struct {
		where []Cond
		want  int
	}{
		"string":        {[]Cond{{"name", "bob"}}, 10},
		"number":        {[]Cond{{"age", "2"}}, 7},
		"number spelt":  {[]Cond{{"age", "2.0"}}, 0},
		"true":          {[]Cond{{"vip", "true"}}, 6},
		"null":          {[]Cond{{"note", "null"}}, 0}, // merging null removes the field
		"escaped":       {[]Cond{{"tag", `t"1`}}, 15},
		"object":        {[]Cond{{"addr", `{"city":"x"}`}}, 0},
		"missing field": {[]Cond{{"nope", "x"}}, 0},
		"all must hold": {[]Cond{{"name", "ann"}, {"age", "0"}}, 3},
		"none holds":    {[]Cond{{"name", "ann"}, {"name", "bob"}}, 0},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			for _, limit := range []int{1, 4, 1000} {
				if got := all(Query{Limit: limit, Where: c.where}); len(got) != c.want {
					t.Fatalf("limit %d: %d items, want %d: %v", limit, len(got), c.want, got)
				}
			}
		})
	}
	if _, err := e.m.Query(id, Query{Limit: 0}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("limit 0: %v", err)
	}
	if _, err := e.m.Query(id, Query{Limit: 1, Where: []Cond{{"", "x"}}}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty where field: %v", err)
	}
	if _, err := e.m.Query("nope", Query{Limit: 1}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown projection: %v", err)
	}
	if _, err := e.m.Lookup(id, "user-999"); !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("unknown key: %v", err)
	}
}

// Queries see every event processed, wherever its entry is: changed and
// not flushed, being flushed, flushed and kept in memory, or evicted.
func TestQueriesReadTheirWrites(t *testing.T) {
	for name, opts := range map[string]Options{
		"never flushed": {noSystem: true, FlushEvents: 1 << 30, FlushInterval: time.Hour},
		"every event":   {noSystem: true, FlushEvents: 1, FlushInterval: time.Millisecond, CacheEntries: 1},
		"small cache":   {noSystem: true, FlushEvents: 7, FlushInterval: time.Hour, CacheEntries: 3},
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, opts)
			id := e.create(Definition{ID: "c", Name: "c", Kind: KindState, Reducer: "counter"}).ID
			want := map[string]int{}
			for i := range 200 {
				s := fmt.Sprintf("s-%02d", (i*7)%23)
				want[s]++
				pos := e.add(s, "A", M{})
				e.wait(id, pos)
				if v := e.value(id, s); v["n"] != float64(want[s]) {
					t.Fatalf("event %d: %s is %v, want n=%d", i, s, v, want[s])
				}
				if i%37 == 0 {
					p, err := e.m.Query(id, Query{Limit: 1000})
					if err != nil {
						t.Fatal(err)
					}
					if len(p.Items) != len(want) {
						t.Fatalf("event %d: list has %d items, want %d", i, len(p.Items), len(want))
					}
					for _, it := range p.Items {
						if got := fmt.Sprintf(`{"n":%d`, want[it.Key]); string(it.Value[:len(got)]) != got {
							t.Fatalf("event %d: list item %s = %s, want n=%d", i, it.Key, it.Value, want[it.Key])
						}
					}
				}
			}
			if in := e.get(id); in.Keys != uint64(len(want)) || in.EventsProcessed != 200 {
				t.Fatalf("info: %+v", in)
			}
			e.reopen()
			for s, n := range want {
				if v := e.value(id, s); v["n"] != float64(n) {
					t.Fatalf("after restart %s is %v, want %d", s, v, n)
				}
			}
		})
	}
}

func TestWait(t *testing.T) {
	e := newEnv(t, Options{noSystem: true})
	id := e.create(Definition{ID: "c", Name: "c", Kind: KindCount}).ID
	target := e.st.Head() + 3
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- e.m.Wait(ctx, id, target)
	}()
	time.Sleep(50 * time.Millisecond)
	for range 3 {
		e.add("a-1", "A", M{})
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Wait was not woken by the projection's progress")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	began := time.Now()
	if err := e.m.Wait(ctx, id, target+1000); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait past the head: %v", err)
	}
	if d := time.Since(began); d < 90*time.Millisecond || d > 2*time.Second {
		t.Fatalf("Wait took %v with a 100 ms deadline", d)
	}
	if err := e.m.Wait(context.Background(), "nope", 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Wait on an unknown projection: %v", err)
	}
}
