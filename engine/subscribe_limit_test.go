package engine

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// bigEvent is an event whose eventData is about size bytes, tagged with i.
func bigEvent(i, size int) Proposed {
	return ev("Big", fmt.Sprintf(`{"i":%d,"pad":"%s"}`, i, strings.Repeat("x", size)))
}

// TestSubscriptionByteBudget: one look never holds more than its byte
// budget (unless one event alone is larger), the pages cover every event
// once, in order, and the events stay intact after later reads reuse the
// (pooled) read buffers they were decoded from.
func TestSubscriptionByteBudget(t *testing.T) {
	s := openT(t, t.TempDir(), Options{Fsync: FsyncNever, MaxEventSize: 1 << 20})
	defer s.Close()
	const n, size = 12, 100 << 10
	for i := range n {
		mustAppend(t, s, "big-1", Any, bigEvent(i, size))
		mustAppend(t, s, "small-1", Any, ev("Small", `{}`))
	}
	for _, tc := range []struct {
		name string
		open func() *Subscription
	}{
		{"all", func() *Subscription { return s.Subscribe(0, Filter{StreamPrefix: "big-"}) }},
		{"stream", func() *Subscription { return s.SubscribeStream("big-1", 0, 0) }},
		{"stream-from-position", func() *Subscription { return s.SubscribeStream("big-1", 0, 1) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sub := tc.open()
			defer sub.Close()
			const budget = 256 << 10
			var pages [][]Event
			var got []Event
			want := n
			if tc.name == "stream-from-position" {
				want = n - 1 // position 1 is the first event of big-1
			}
			for len(got) < want {
				evs, err := sub.TryNext(1000, budget)
				if err != nil {
					t.Fatal(err)
				}
				if len(evs) == 0 {
					t.Fatalf("TryNext found nothing after %d of %d events", len(got), want)
				}
				held := 0
				for i := range evs {
					held += EventMemSize(&evs[i])
				}
				if held > budget {
					t.Fatalf("a page holds %d bytes, budget %d", held, budget)
				}
				if len(evs) != 2 && len(got)+len(evs) != want { // 2×~100 KiB fit in 256 KiB, 3 do not
					t.Fatalf("page of %d events, want 2", len(evs))
				}
				pages = append(pages, evs)
				got = append(got, evs...)
			}
			for k, e := range got {
				i := k + n - want
				if e.Version != uint64(i+1) || !strings.HasPrefix(string(e.Data), fmt.Sprintf(`{"i":%d,`, i)) || len(e.Data) < size {
					t.Fatalf("event %d: version %d, data %.20s… (%d bytes)", k, e.Version, e.Data, len(e.Data))
				}
				if e.StreamID != "big-1" || e.Type != "Big" {
					t.Fatalf("event %d: %q %q", k, e.StreamID, e.Type)
				}
			}
			if evs, err := sub.TryNext(1000, budget); err != nil || len(evs) != 0 {
				t.Fatalf("after the last page: %d events, %v", len(evs), err)
			}
		})
	}

	// An event larger than the budget comes alone.
	sub := s.Subscribe(0, Filter{StreamPrefix: "big-"})
	defer sub.Close()
	evs, err := sub.TryNext(1000, 1<<10)
	if err != nil || len(evs) != 1 || evs[0].Position != 1 {
		t.Fatalf("budget below one event: %d events, %v", len(evs), err)
	}
	// Next keeps its old meaning, within DefaultNextBytes.
	evs, err = sub.Next(context.Background(), 1000)
	held := 0
	for i := range evs {
		held += EventMemSize(&evs[i])
	}
	if err != nil || held > DefaultNextBytes || len(evs) < 2 || evs[0].Position != 3 {
		t.Fatalf("Next: %d events (%d bytes), %v", len(evs), held, err)
	}
}

// TestSubscriptionWait: Wait returns at once while events are pending,
// blocks (without holding anything) once everything has been looked at,
// wakes on an append, and does not spin on appends the filter skips.
func TestSubscriptionWait(t *testing.T) {
	for _, tc := range []struct {
		name string
		open func(*Store) *Subscription
	}{
		{"all", func(s *Store) *Subscription { return s.Subscribe(0, Filter{StreamPrefix: "a-"}) }},
		{"stream", func(s *Store) *Subscription { return s.SubscribeStream("a-1", 0, 0) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openT(t, t.TempDir(), Options{Fsync: FsyncNever})
			defer s.Close()
			mustAppend(t, s, "a-1", Any, ev("T", `{}`))
			sub := tc.open(s)
			defer sub.Close()
			short := func() error {
				ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
				defer cancel()
				return sub.Wait(ctx)
			}
			if err := short(); err != nil {
				t.Fatalf("Wait with an event pending: %v", err)
			}
			if evs, err := sub.TryNext(10, 0); err != nil || len(evs) != 1 {
				t.Fatalf("TryNext: %d, %v", len(evs), err)
			}
			if err := short(); err != context.DeadlineExceeded {
				t.Fatalf("Wait when caught up: %v, want a timeout", err)
			}
			mustAppend(t, s, "b-1", Any, ev("T", `{}`)) // not ours
			if err := short(); err != nil {
				t.Fatalf("Wait after an append: %v", err)
			}
			if evs, err := sub.TryNext(10, 0); err != nil || len(evs) != 0 {
				t.Fatalf("TryNext after a skipped append: %d, %v", len(evs), err)
			}
			if err := short(); err != context.DeadlineExceeded {
				t.Fatalf("Wait after looking at the skipped append: %v, want a timeout", err)
			}
			done := make(chan error, 1)
			go func() { done <- sub.Wait(context.Background()) }()
			mustAppend(t, s, "a-1", Any, ev("T", `{}`))
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("Wait did not wake on an append")
			}
			if evs, err := sub.TryNext(10, 0); err != nil || len(evs) != 1 {
				t.Fatalf("TryNext: %d, %v", len(evs), err)
			}
		})
	}
}
