package client_test

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventd/eventd/client"
)

// receive takes n events from sub, failing the test after the timeout.
func receive(t *testing.T, sub *client.Subscription, n int, timeout time.Duration) []client.Event {
	t.Helper()
	var out []client.Event
	deadline := time.After(timeout)
	for len(out) < n {
		select {
		case ev, ok := <-sub.Events():
			if !ok {
				t.Fatalf("subscription ended after %d of %d events: %v", len(out), n, sub.Err())
			}
			out = append(out, ev)
		case <-deadline:
			t.Fatalf("got %d of %d events within %v", len(out), n, timeout)
		}
	}
	return out
}

// quiet checks that sub delivers nothing more for a while.
func quiet(t *testing.T, sub *client.Subscription, d time.Duration) {
	t.Helper()
	select {
	case ev, ok := <-sub.Events():
		if ok {
			t.Fatalf("unexpected event: %+v", ev)
		}
		t.Fatalf("subscription ended: %v", sub.Err())
	case <-time.After(d):
	}
}

// waitLastPosition waits for LastPosition to reach pos: it is updated
// just after the consumer has taken the event.
func waitLastPosition(t *testing.T, sub *client.Subscription, pos uint64) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); sub.LastPosition() != pos; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("LastPosition %d, want %d", sub.LastPosition(), pos)
		}
	}
}

func positionsOf(evs []client.Event) []uint64 {
	var out []uint64
	for _, e := range evs {
		out = append(out, e.Position)
	}
	return out
}

func appendN(t *testing.T, c *client.Client, stream string, n int) []uint64 {
	t.Helper()
	ctx := testCtx(t, 30*time.Second)
	var pos []uint64
	for i := 0; i < n; i++ {
		r, err := c.Append(ctx, stream, "Tick", map[string]int{"i": i})
		if err != nil {
			t.Fatal(err)
		}
		pos = append(pos, r.Position)
	}
	return pos
}

func TestSubscribe(t *testing.T) {
	d := startDaemon(t)
	c := newClient(t, d)
	ctx := testCtx(t, 30*time.Second)

	first := appendN(t, c, "a-1", 3)
	all, err := c.Subscribe(ctx, client.SubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer all.Close()
	live, err := c.Subscribe(ctx, client.SubscribeOptions{Live: true})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	typed, err := c.Subscribe(ctx, client.SubscribeOptions{FromPosition: 1, EventTypes: []string{"Other"}, StreamPrefix: "b-"})
	if err != nil {
		t.Fatal(err)
	}
	defer typed.Close()
	got := receive(t, all, 3, 10*time.Second)
	if !slices.Equal(positionsOf(got), first) || got[0].StreamID != "a-1" || got[0].EventType != "Tick" || got[2].Version != 3 {
		t.Fatalf("catch-up: %+v", got)
	}
	more := appendN(t, c, "a-1", 2)
	if _, err := c.Append(ctx, "b-1", "Other", nil); err != nil {
		t.Fatal(err)
	}
	got = receive(t, all, 3, 10*time.Second)
	if !slices.Equal(positionsOf(got)[:2], more) || got[2].StreamID != "b-1" {
		t.Fatalf("live: %v", positionsOf(got))
	}
	got = receive(t, live, 3, 10*time.Second)
	if got[0].Position != first[2]+1 {
		t.Fatalf("live from the head: %v", positionsOf(got))
	}
	if got := receive(t, typed, 1, 10*time.Second); got[0].StreamID != "b-1" {
		t.Fatalf("filtered: %+v", got)
	}
	waitLastPosition(t, all, 6)
	quiet(t, typed, 100*time.Millisecond)

	// Close ends it cleanly; ctx ending reports ctx's error.
	if err := all.Close(); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-all.Events(); ok || all.Err() != nil {
		t.Fatalf("after Close: %v", all.Err())
	}
	_ = all.Close()
	sctx, cancel := context.WithCancel(ctx)
	s, err := c.Subscribe(sctx, client.SubscribeOptions{Live: true})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	<-s.Done()
	if !errors.Is(s.Err(), context.Canceled) {
		t.Fatalf("after cancel: %v", s.Err())
	}
}

func TestSubscribeStream(t *testing.T) {
	d := startDaemon(t)
	c := newClient(t, d)
	ctx := testCtx(t, 30*time.Second)

	appendN(t, c, "s-1", 3)
	appendN(t, c, "s-2", 2)
	whole, err := c.SubscribeStream(ctx, "s-1", client.StreamSubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer whole.Close()
	from2, err := c.SubscribeStream(ctx, "s-1", client.StreamSubscribeOptions{FromVersion: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer from2.Close()
	live, err := c.SubscribeStream(ctx, "s-1", client.StreamSubscribeOptions{Live: true})
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	future, err := c.SubscribeStream(ctx, "s-new", client.StreamSubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer future.Close()

	vers := func(evs []client.Event) []uint64 {
		var out []uint64
		for _, e := range evs {
			if e.StreamID != "s-1" && e.StreamID != "s-new" {
				t.Fatalf("event of %s", e.StreamID)
			}
			out = append(out, e.Version)
		}
		return out
	}
	if got := vers(receive(t, whole, 3, 10*time.Second)); !slices.Equal(got, []uint64{1, 2, 3}) {
		t.Fatalf("whole: %v", got)
	}
	if got := vers(receive(t, from2, 1, 10*time.Second)); !slices.Equal(got, []uint64{3}) {
		t.Fatalf("from 2: %v", got)
	}
	appendN(t, c, "s-2", 1)
	appendN(t, c, "s-1", 1)
	appendN(t, c, "s-new", 1)
	for _, s := range []*client.Subscription{whole, from2, live} {
		if got := vers(receive(t, s, 1, 10*time.Second)); got[0] != 4 {
			t.Fatalf("live event: %v", got)
		}
	}
	if got := receive(t, future, 1, 10*time.Second); got[0].StreamID != "s-new" || got[0].Version != 1 {
		t.Fatalf("stream written later: %+v", got)
	}
	quiet(t, live, 100*time.Millisecond)
}

// TestSubscriptionSurvivesRestart stops the daemon under live
// subscriptions and starts it again on the same data and port: every event
// arrives exactly once, in order.
func TestSubscriptionSurvivesRestart(t *testing.T) {
	d := startDaemon(t)
	c := newClient(t, d, client.WithRetry(client.RetryPolicy{MaxAttempts: 10, InitialBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond}))
	ctx := testCtx(t, 60*time.Second)

	before := appendN(t, c, "r-1", 5)
	var reconnects atomic.Int32
	onReconnect := func(err error, attempt int, wait time.Duration) { reconnects.Add(1) }
	all, err := c.Subscribe(ctx, client.SubscribeOptions{ExcludeSystem: true,
		ReconnectOptions: client.ReconnectOptions{OnReconnect: onReconnect}})
	if err != nil {
		t.Fatal(err)
	}
	defer all.Close()
	stream, err := c.SubscribeStream(ctx, "r-1", client.StreamSubscribeOptions{FromVersion: 2,
		ReconnectOptions: client.ReconnectOptions{OnReconnect: onReconnect}})
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	if got := positionsOf(receive(t, all, 5, 10*time.Second)); !slices.Equal(got, before) {
		t.Fatalf("before the restart: %v", got)
	}
	if got := receive(t, stream, 3, 10*time.Second); got[0].Version != 3 || got[2].Version != 5 {
		t.Fatalf("stream before the restart: %v", positionsOf(got))
	}

	for round := 0; round < 2; round++ {
		if err := d.stop(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond) // the subscribers find the daemon gone
		if err := d.start(); err != nil {
			t.Fatal(err)
		}
		after := appendN(t, c, "r-1", 5)
		if got := positionsOf(receive(t, all, 5, 20*time.Second)); !slices.Equal(got, after) {
			t.Fatalf("round %d, $all after the restart: %v, want %v", round, got, after)
		}
		if got := positionsOf(receive(t, stream, 5, 20*time.Second)); !slices.Equal(got, after) {
			t.Fatalf("round %d, stream after the restart: %v, want %v", round, got, after)
		}
	}
	quiet(t, all, 200*time.Millisecond)
	quiet(t, stream, 10*time.Millisecond)
	if reconnects.Load() < 4 {
		t.Fatalf("%d reconnects", reconnects.Load())
	}
	waitLastPosition(t, all, 15)
	if err := all.Close(); err != nil || all.Err() != nil {
		t.Fatalf("close: %v %v", err, all.Err())
	}
}
