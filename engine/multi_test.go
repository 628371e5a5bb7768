package engine

import (
	"errors"
	"sync"
	"testing"

	"github.com/eventd/eventd/segment/vfs"
)

func TestAppendMulti(t *testing.T) {
	s := openT(t, t.TempDir(), Options{Fsync: FsyncNever})
	defer s.Close()
	mustAppend(t, s, "user-1", Any, ev("UserCreated", `{}`))
	res, err := s.AppendMulti(ctx, []StreamAppend{
		{StreamID: "user-1", Expected: 1, Events: []Proposed{ev("UserUpdated", `{"a":1}`), ev("UserUpdated", `{"a":2}`)}},
		{StreamID: "$commands", Expected: Any, Events: []Proposed{ev("CommandCompleted", `{}`)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || res[0].FirstVersion != 2 || res[0].LastVersion != 3 || res[0].FirstPosition != 2 ||
		res[1].FirstPosition != 4 || res[1].FirstVersion != 1 || res[1].StreamID != "$commands" || !res[0].Timestamp.Equal(res[1].Timestamp) {
		t.Fatalf("results %+v", res)
	}
	// One wrong expected version refuses every part; the error names its stream.
	_, err = s.AppendMulti(ctx, []StreamAppend{
		{StreamID: "$commands", Expected: Any, Events: []Proposed{ev("CommandCompleted", `{}`)}},
		{StreamID: "user-1", Expected: 1, Events: []Proposed{ev("UserUpdated", `{}`)}},
	})
	var wev *WrongExpectedVersionError
	if !errors.As(err, &wev) || wev.StreamID != "user-1" || wev.Current != 3 {
		t.Fatalf("conflict: %v", err)
	}
	if s.Head() != 4 {
		t.Fatalf("head %d after a refused multi append, want 4", s.Head())
	}
	// Input rules hold for every part; a stream may appear once.
	for _, parts := range [][]StreamAppend{
		{{StreamID: "a", Expected: Any, Events: []Proposed{ev("T", `{}`)}}, {StreamID: "a", Expected: Any, Events: []Proposed{ev("T", `{}`)}}},
		{{StreamID: "a", Expected: Any, Events: []Proposed{ev("T", `{}`)}}, {StreamID: "b c", Expected: Any, Events: []Proposed{ev("T", `{}`)}}},
		{{StreamID: "a", Expected: Any, Events: []Proposed{ev("T", `{}`)}}, {StreamID: "b", Expected: Any, Events: []Proposed{ev("1T", `{}`)}}},
		{{StreamID: "a", Expected: Any, Events: []Proposed{ev("T", `{}`)}}, {StreamID: "b", Expected: Any}},
		nil,
	} {
		if _, err := s.AppendMulti(ctx, parts); !errors.Is(err, ErrInvalidEvent) && !errors.Is(err, ErrInvalidStreamID) {
			t.Fatalf("%v: err %v", parts, err)
		}
	}
	// A client id already written refuses the whole append.
	mustAppend(t, s, "k", Any, evID("id-1", "T"))
	_, err = s.AppendMulti(ctx, []StreamAppend{
		{StreamID: "x", Expected: Any, Events: []Proposed{ev("T", `{}`)}},
		{StreamID: "k", Expected: Any, Events: []Proposed{evID("id-1", "T")}},
	})
	if !errors.Is(err, ErrDuplicateEvent) {
		t.Fatalf("a known client id in a multi append: %v", err)
	}
	if s.Head() != 5 {
		t.Fatalf("head %d, want 5", s.Head())
	}
	// One part follows the same rules: a retried id is refused, not answered as a duplicate.
	one := []StreamAppend{{StreamID: "solo", Expected: NoStream, Events: []Proposed{evID("s-1", "T")}}}
	if _, err := s.AppendMulti(ctx, one); err != nil {
		t.Fatal(err)
	}
	if res, err := s.AppendMulti(ctx, one); !errors.Is(err, ErrDuplicateEvent) {
		t.Fatalf("a one-part multi append retried: %+v, %v; want ErrDuplicateEvent", res, err)
	}
}

// Concurrent multi appends with the same expected version: exactly one
// wins, and its parts are never separated.
func TestAppendMultiConcurrentOneWins(t *testing.T) {
	s := openT(t, t.TempDir(), Options{Fsync: FsyncNever})
	defer s.Close()
	mustAppend(t, s, "agg-1", Any, ev("Created", `{}`))
	var wg sync.WaitGroup
	wins := make(chan int, 32)
	for i := 0; i < 32; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			_, err := s.AppendMulti(ctx, []StreamAppend{
				{StreamID: "agg-1", Expected: 1, Events: []Proposed{ev("Changed", `{}`)}},
				{StreamID: "$log", Expected: Any, Events: []Proposed{ev("Done", `{}`)}},
			})
			if err == nil {
				wins <- i
			}
		}(i)
	}
	wg.Wait()
	close(wins)
	if len(wins) != 1 {
		t.Fatalf("%d winners, want 1", len(wins))
	}
	if v, _ := s.Stream("$log"); v.Version != 1 {
		t.Fatalf("$log has %d events, want 1", v.Version)
	}
}

// A power loss never separates the parts of a multi-stream append: after
// a crash at any sync, either every part is there or none.
func TestAppendMultiPowerLoss(t *testing.T) {
	for n := int64(0); n < 12; n++ {
		mem := vfs.NewMem()
		f := vfs.NewFault(mem)
		s := openT(t, "d", Options{FS: f})
		f.FailSyncAt(f.Syncs() + n)
		acked := 0
		for i := 0; i < 6; i++ {
			_, err := s.AppendMulti(ctx, []StreamAppend{
				{StreamID: "a", Expected: Any, Events: []Proposed{ev("A", `{}`), ev("A", `{}`)}},
				{StreamID: "b", Expected: Any, Events: []Proposed{ev("B", `{}`)}},
			})
			if err != nil {
				break
			}
			acked++
		}
		_ = s.Close()
		s2 := openT(t, "d", Options{FS: mem.Crash()})
		a, _ := s2.Stream("a")
		b, _ := s2.Stream("b")
		if a.Version != 2*b.Version || b.Version < uint64(acked) {
			t.Fatalf("sync fault %d: a has %d events, b %d (acked %d): parts separated or lost", n, a.Version, b.Version, acked)
		}
		_ = s2.Close()
	}
}
