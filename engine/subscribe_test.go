package engine

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestSubscribeCatchUpThenLive starts subscribers before, during and after
// a burst of concurrent appends; each must see every matching event exactly
// once, in position order.
func TestSubscribeCatchUpThenLive(t *testing.T) {
	s := openT(t, t.TempDir(), Options{Fsync: FsyncNever, SegmentSize: 64 << 10})
	defer s.Close()
	mustAppend(t, s, "pre-1", Any, ev("T", `{}`))
	const writers, per = 8, 150
	total := writers * per

	collect := func(sub *Subscription, want int) ([]Event, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		var got []Event
		for len(got) < want {
			evs, err := sub.Next(ctx, 7) // small pages: many catch-up/live switches
			if err != nil {
				return got, err
			}
			got = append(got, evs...)
		}
		return got, nil
	}
	type result struct {
		name string
		evs  []Event
		err  error
	}
	results := make(chan result, 4)
	start := func(name string, sub *Subscription) {
		go func() {
			evs, err := collect(sub, total)
			sub.Close() // before the result is sent: the test counts subscribers after the results
			results <- result{name, evs, err}
		}()
	}
	f := Filter{StreamPrefix: "burst-"}
	start("before", s.Subscribe(0, f))

	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				if _, err := s.Append(ctx, fmt.Sprintf("burst-%d", w), Any, []Proposed{ev("T", `{}`)}); err != nil {
					t.Error(err)
					return
				}
				if w == 0 && i == per/2 {
					start("during", s.Subscribe(0, f))
				}
			}
		}()
	}
	wg.Wait()
	start("after", s.Subscribe(0, f))
	start("types", s.Subscribe(0, Filter{EventTypes: []string{"T"}, ExcludeSystem: true, StreamPrefix: "burst-"}))
	for i := 0; i < 4; i++ {
		r := <-results
		if r.err != nil {
			t.Fatalf("%s: %v after %d events", r.name, r.err, len(r.evs))
		}
		if len(r.evs) != total {
			t.Fatalf("%s: %d events, want %d", r.name, len(r.evs), total)
		}
		for j := 1; j < len(r.evs); j++ {
			if r.evs[j].Position <= r.evs[j-1].Position {
				t.Fatalf("%s: position %d after %d", r.name, r.evs[j].Position, r.evs[j-1].Position)
			}
		}
	}
	if n := s.Stats().Subscribers; n != 0 {
		t.Fatalf("%d subscribers after Close", n)
	}
}

func TestSubscribeStream(t *testing.T) {
	s := openT(t, t.TempDir(), Options{Fsync: FsyncNever})
	defer s.Close()
	var pos []uint64
	for i := 0; i < 5; i++ {
		r := mustAppend(t, s, "one", Any, ev("T", `{}`))
		pos = append(pos, r.FirstPosition)
		mustAppend(t, s, "other", Any, ev("T", `{}`))
	}
	c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	sub := s.SubscribeStream("one", 2, 0)
	defer sub.Close()
	evs, err := sub.Next(c, 100)
	if err != nil || len(evs) != 3 || evs[0].Version != 3 {
		t.Fatalf("from version 2: %d events, %v", len(evs), err)
	}
	// Resume by position (Last-Event-ID): the position of version 2.
	r := s.SubscribeStream("one", 0, pos[1])
	defer r.Close()
	evs, err = r.Next(c, 100)
	if err != nil || len(evs) != 3 || evs[0].Version != 3 {
		t.Fatalf("from position %d: %d events, %v", pos[1], len(evs), err)
	}
	// Live: a new event wakes the subscriber.
	go func() {
		time.Sleep(20 * time.Millisecond)
		mustAppend(t, s, "other", Any, ev("T", `{}`))
		mustAppend(t, s, "one", Any, ev("Live", `{}`))
	}()
	evs, err = r.Next(c, 100)
	if err != nil || len(evs) != 1 || evs[0].Type != "Live" || evs[0].Version != 6 {
		t.Fatalf("live: %+v, %v", evs, err)
	}
	// A subscription to a stream that does not exist yet waits for it.
	n := s.SubscribeStream("later", 0, 0)
	defer n.Close()
	go func() {
		time.Sleep(20 * time.Millisecond)
		mustAppend(t, s, "later", Any, ev("First", `{}`))
	}()
	if evs, err = n.Next(c, 10); err != nil || len(evs) != 1 || evs[0].Type != "First" {
		t.Fatalf("new stream: %+v, %v", evs, err)
	}
	// Next ends with its context and with the store.
	short, cancel2 := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel2()
	if _, err := n.Next(short, 10); err != context.DeadlineExceeded {
		t.Fatalf("Next with nothing to read: %v", err)
	}
}

func TestSubscribeEndsOnClose(t *testing.T) {
	s := openT(t, t.TempDir(), Options{Fsync: FsyncNever})
	sub := s.Subscribe(s.Head(), Filter{})
	done := make(chan error, 1)
	go func() { _, err := sub.Next(context.Background(), 10); done <- err }()
	time.Sleep(20 * time.Millisecond)
	s.Close()
	select {
	case err := <-done:
		if err != ErrClosed {
			t.Fatalf("Next after Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Next did not return after Close")
	}
}
