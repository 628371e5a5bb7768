package client_test

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/eventd/eventd/client"
)

// seedPages writes 25 events to "page-1" interleaved with 10 to "other-1"
// (of type Other) and returns the positions of page-1's events.
func seedPages(t *testing.T, c *client.Client) []uint64 {
	t.Helper()
	ctx := testCtx(t, 30*time.Second)
	var pos []uint64
	for i := 1; i <= 25; i++ {
		r, err := c.Append(ctx, "page-1", "Numbered", map[string]int{"i": i})
		if err != nil {
			t.Fatal(err)
		}
		pos = append(pos, r.Position)
		if i%5 == 0 {
			for j := 0; j < 2; j++ {
				if _, err := c.Append(ctx, "other-1", "Other", nil); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	return pos
}

func versions(t *testing.T, seq func(func(client.Event, error) bool)) []uint64 {
	t.Helper()
	var out []uint64
	for ev, err := range seq {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ev.Version)
	}
	return out
}

func span(from, to int) []uint64 {
	var out []uint64
	if from <= to {
		for i := from; i <= to; i++ {
			out = append(out, uint64(i))
		}
	} else {
		for i := from; i >= to; i-- {
			out = append(out, uint64(i))
		}
	}
	return out
}

func TestReadStreamPaging(t *testing.T) {
	d := startDaemon(t)
	c := newClient(t, d)
	seedPages(t, c)
	ctx := testCtx(t, 30*time.Second)

	// Pages with Next, forward.
	p, err := c.ReadStream(ctx, "page-1", client.ReadStreamOptions{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var sizes []int
	var got []uint64
	for {
		sizes = append(sizes, len(p.Events))
		for _, ev := range p.Events {
			got = append(got, ev.Version)
		}
		if !p.HasNext() {
			break
		}
		if p, err = p.Next(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if !slices.Equal(sizes, []int{10, 10, 5}) || !slices.Equal(got, span(1, 25)) {
		t.Fatalf("forward pages %v: %v", sizes, got)
	}
	if _, err := p.Next(ctx); !errors.Is(err, client.ErrNoMorePages) {
		t.Fatalf("Next after the last page: %v", err)
	}

	// Backward pages.
	p, err = c.ReadStream(ctx, "page-1", client.ReadStreamOptions{Limit: 10, Direction: client.Backward})
	if err != nil {
		t.Fatal(err)
	}
	if p.Events[0].Version != 25 || p.Events[9].Version != 16 || !p.HasNext() || *p.NextFromVersion != 16 {
		t.Fatalf("first backward page: %d..%d next %v", p.Events[0].Version, p.Events[9].Version, p.NextFromVersion)
	}

	// Iterators over every page, both directions, from a start point.
	cases := []struct {
		opts client.ReadStreamOptions
		want []uint64
	}{
		{client.ReadStreamOptions{Limit: 7}, span(1, 25)},
		{client.ReadStreamOptions{Limit: 7, Direction: client.Backward}, span(25, 1)},
		{client.ReadStreamOptions{Limit: 4, FromVersion: 5}, span(6, 25)},
		{client.ReadStreamOptions{Limit: 3, FromVersion: 5, Direction: client.Backward}, span(4, 1)},
		{client.ReadStreamOptions{}, span(1, 25)},
	}
	for _, tc := range cases {
		if got := versions(t, c.StreamEvents(ctx, "page-1", tc.opts)); !slices.Equal(got, tc.want) {
			t.Errorf("StreamEvents %+v: %v", tc.opts, got)
		}
	}
	// Stopping early.
	n := 0
	for _, err := range c.StreamEvents(ctx, "page-1", client.ReadStreamOptions{Limit: 2}) {
		if err != nil {
			t.Fatal(err)
		}
		if n++; n == 3 {
			break
		}
	}
	// An error is yielded once, then the iteration stops.
	var errs []error
	for _, err := range c.StreamEvents(ctx, "page-1", client.ReadStreamOptions{Limit: 20000}) {
		errs = append(errs, err)
	}
	if len(errs) != 1 {
		t.Fatalf("errors yielded: %v", errs)
	}
	wantCode(t, errs[0], http.StatusBadRequest, client.CodeBadRequest, client.ErrBadRequest)
}

func TestReadAllPaging(t *testing.T) {
	d := startDaemon(t)
	c := newClient(t, d)
	pos := seedPages(t, c)
	ctx := testCtx(t, 30*time.Second)

	positions := func(opts client.ReadAllOptions) []uint64 {
		var out []uint64
		for ev, err := range c.AllEvents(ctx, opts) {
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, ev.Position)
		}
		return out
	}
	rev := slices.Clone(pos)
	slices.Reverse(rev)
	if got := positions(client.ReadAllOptions{StreamPrefix: "page-", Limit: 4}); !slices.Equal(got, pos) {
		t.Fatalf("forward by prefix: %v", got)
	}
	if got := positions(client.ReadAllOptions{StreamPrefix: "page-", Limit: 6, Direction: client.Backward}); !slices.Equal(got, rev) {
		t.Fatalf("backward by prefix: %v", got)
	}
	if got := positions(client.ReadAllOptions{EventTypes: []string{"Numbered"}, Limit: 5, FromPosition: pos[9]}); !slices.Equal(got, pos[10:]) {
		t.Fatalf("forward by type from %d: %v", pos[9], got)
	}
	all := positions(client.ReadAllOptions{Limit: 8})
	if !slices.Equal(all, span(1, 35)) {
		t.Fatalf("$all: %v", all)
	}
	if got := positions(client.ReadAllOptions{Direction: client.Backward, Limit: 8, ExcludeSystem: true}); !slices.Equal(got, span(35, 1)) {
		t.Fatalf("$all backward: %v", got)
	}

	p, err := c.ReadAll(ctx, client.ReadAllOptions{Limit: 30})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Events) != 30 || p.HeadPosition != 35 || !p.HasNext() || *p.NextFromPosition != 30 {
		t.Fatalf("first $all page: %d events head %d next %v", len(p.Events), p.HeadPosition, p.NextFromPosition)
	}
	if p, err = p.Next(ctx); err != nil || len(p.Events) != 5 || p.HasNext() {
		t.Fatalf("second $all page: %+v %v", p, err)
	}
	if _, err := p.Next(ctx); !errors.Is(err, client.ErrNoMorePages) {
		t.Fatalf("Next after the last page: %v", err)
	}
	_, err = c.ReadAll(ctx, client.ReadAllOptions{EventTypes: []string{"9bad"}})
	wantCode(t, err, http.StatusBadRequest, client.CodeInvalidEventType, client.ErrInvalidEventType)
}

func TestStreamsAndListStreams(t *testing.T) {
	d := startDaemon(t)
	c := newClient(t, d)
	ctx := testCtx(t, 30*time.Second)

	for i := 1; i <= 5; i++ {
		for j := 0; j < i; j++ {
			if _, err := c.Append(ctx, fmt.Sprintf("s-%d", i), "E", nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := c.Append(ctx, "t-1", "E", nil); err != nil {
		t.Fatal(err)
	}
	st, err := c.Stream(ctx, "s-3")
	if err != nil {
		t.Fatal(err)
	}
	if st.StreamID != "s-3" || st.CurrentVersion != 3 || st.CreatedAt.IsZero() || st.UpdatedAt.Before(st.CreatedAt) {
		t.Fatalf("stream: %+v", st)
	}
	_, err = c.Stream(ctx, "s-9")
	wantCode(t, err, http.StatusNotFound, client.CodeNotFound, client.ErrNotFound)

	l, err := c.ListStreams(ctx, client.ListStreamsOptions{Prefix: "s-", Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Streams) != 2 || l.Streams[0].StreamID != "s-1" || !l.HasNext() {
		t.Fatalf("first list page: %+v", l)
	}
	var ids []string
	for s, err := range c.Streams(ctx, client.ListStreamsOptions{Prefix: "s-", Limit: 2}) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s.StreamID)
		if want := uint64(len(ids)); s.CurrentVersion != want {
			t.Fatalf("%s version %d, want %d", s.StreamID, s.CurrentVersion, want)
		}
	}
	if !slices.Equal(ids, []string{"s-1", "s-2", "s-3", "s-4", "s-5"}) {
		t.Fatalf("streams: %v", ids)
	}
	ids = ids[:0]
	for s, err := range c.Streams(ctx, client.ListStreamsOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s.StreamID)
	}
	if !slices.Contains(ids, "t-1") || len(ids) != 6 {
		t.Fatalf("all streams: %v", ids)
	}
	_, err = c.ListStreams(ctx, client.ListStreamsOptions{Cursor: "not a cursor!"})
	wantCode(t, err, http.StatusBadRequest, client.CodeBadRequest, client.ErrBadRequest)
}

func TestReplay(t *testing.T) {
	d := startDaemon(t, "--snapshot-every", "0", "--snapshot-after", "0")
	c := newClient(t, d)
	ctx := testCtx(t, 30*time.Second)

	if _, err := c.AppendBatch(ctx, "user-1", []client.NewEvent{
		{EventType: "UserCreated", Data: map[string]string{"name": "Ann", "email": "a@x"}},
		{EventType: "UserUpdated", Data: map[string]any{"updates": map[string]string{"name": "Anne"}}},
		{EventType: "UserUpdated", Data: map[string]any{"updates": map[string]string{"email": "anne@x"}}},
	}); err != nil {
		t.Fatal(err)
	}
	type user struct {
		Name, Email string
		Deleted     bool
	}
	r, err := c.Replay(ctx, "user-1", client.ReplayOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var u user
	if err := r.DecodeState(&u); err != nil || u.Name != "Anne" || u.Email != "anne@x" {
		t.Fatalf("state: %+v %v (%s)", u, err, r.FinalState)
	}
	if r.StreamID != "user-1" || r.FromVersion != 0 || r.ToVersion != 3 || r.SnapshotVersion != nil ||
		r.EventsApplied != 3 || len(r.Events) != 3 {
		t.Fatalf("replay: %+v", r)
	}

	r, err = c.Replay(ctx, "user-1", client.ReplayOptions{FromVersion: 1, ToVersion: 2, Reducer: "default"})
	if err != nil {
		t.Fatal(err)
	}
	u = user{}
	if err := r.DecodeState(&u); err != nil || u.Name != "Anne" || u.Email != "a@x" {
		t.Fatalf("state at 2: %+v %v", u, err)
	}
	if r.ToVersion != 2 || len(r.Events) != 1 || r.Events[0].Version != 2 {
		t.Fatalf("replay 1..2: %+v", r)
	}

	snap, err := c.CreateSnapshot(ctx, "user-1", 2)
	if err != nil {
		t.Fatal(err)
	}
	r, err = c.Replay(ctx, "user-1", client.ReplayOptions{SkipEvents: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.SnapshotVersion == nil || *r.SnapshotVersion != snap.Version || r.EventsApplied != 1 || r.Events != nil {
		t.Fatalf("replay from snapshot: %+v", r)
	}
	r, err = c.Replay(ctx, "user-1", client.ReplayOptions{SkipSnapshot: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.SnapshotVersion != nil || r.EventsApplied != 3 || len(r.Events) != 3 {
		t.Fatalf("replay without snapshot: %+v", r)
	}

	_, err = c.Replay(ctx, "user-404", client.ReplayOptions{})
	wantCode(t, err, http.StatusNotFound, client.CodeNotFound, client.ErrNotFound)
	_, err = c.Replay(ctx, "user-1", client.ReplayOptions{ToVersion: 9})
	wantCode(t, err, http.StatusBadRequest, client.CodeBadRequest, client.ErrBadRequest)
	_, err = c.Replay(ctx, "user-1", client.ReplayOptions{Reducer: "nope"})
	wantCode(t, err, http.StatusBadRequest, client.CodeBadRequest, client.ErrBadRequest)
}
