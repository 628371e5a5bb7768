package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// A subscription filtered by event type is not woken by commits of other
// types (it sleeps through them), is woken by one of its types, sees every
// matching event once and in order under concurrent appends of mixed
// types, and after a restart catches up from before the marks' start.
func TestTypedSubscriptionWakesOnItsTypes(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, Options{Fsync: FsyncNever})
	mustAppend(t, s, "old-1", Any, ev("Want", `{"i":0}`))
	sub := s.Subscribe(s.Head(), Filter{EventTypes: []string{"Want", "Also"}})
	defer sub.Close()

	// Other types only: Wait sleeps until its deadline, and the cursor is
	// moved past them without a read.
	for i := range 20 {
		mustAppend(t, s, "noise", Any, ev("Noise", fmt.Sprintf(`{"i":%d}`, i)))
	}
	if len(sub.wake) != 0 {
		t.Fatal("commits of other types signalled the subscription")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	err := sub.Wait(ctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait with only other types committed: %v, want the deadline", err)
	}
	if sub.Position() != s.Head() {
		t.Fatalf("cursor %d, head %d: the other types were not skipped", sub.Position(), s.Head())
	}

	// Mixed concurrent appends: every Want/Also event exactly once, in order.
	const writers, per = 4, 100
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range per {
				typ := []string{"Noise", "Want", "Other", "Also"}[(w+i)%4]
				if _, err := s.Append(context.Background(), fmt.Sprintf("mix-%d", w), Any, []Proposed{ev(typ, `{}`)}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	want := writers * per / 2
	var got []Event
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for len(got) < want {
		evs, err := sub.Next(ctx, 5)
		if err != nil {
			t.Fatalf("after %d of %d events: %v", len(got), want, err)
		}
		got = append(got, evs...)
	}
	wg.Wait()
	for i, e := range got {
		if e.Type != "Want" && e.Type != "Also" {
			t.Fatalf("event %d: type %q", i, e.Type)
		}
		if i > 0 && e.Position <= got[i-1].Position {
			t.Fatalf("event %d at %d after %d", i, e.Position, got[i-1].Position)
		}
	}
	if len(got) != want {
		t.Fatalf("%d events, want %d", len(got), want)
	}
	// Only watched types are kept, and none once nobody watches.
	if n := markCount(s); n != 2 {
		t.Fatalf("%d type marks with one subscription on two types", n)
	}
	sub.Close()
	if n := markCount(s); n != 0 {
		t.Fatalf("%d type marks left after the last subscription closed", n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Reopened: the marks know nothing before the open, so a subscription
	// from 0 reads the log and finds the old events.
	s = openT(t, dir, Options{Fsync: FsyncNever})
	defer s.Close()
	sub = s.Subscribe(0, Filter{EventTypes: []string{"Want"}})
	defer sub.Close()
	evs, err := sub.Next(context.Background(), 1000)
	if err != nil || len(evs) == 0 || evs[0].StreamID != "old-1" {
		t.Fatalf("after a restart: %d events (%v), want old-1's first", len(evs), err)
	}
}

func markCount(s *Store) int {
	s.types.mu.Lock()
	defer s.types.mu.Unlock()
	return len(s.types.marks)
}
