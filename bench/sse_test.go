package bench

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// seededRunner seeds the fake with n events over 2 workers × 2 streams and
// returns a runner ready for the read phases.
func seededRunner(t *testing.T, f *fakeServer, url string, n int64) *runner {
	t.Helper()
	return seededRunnerWith(t, f, url, n, 2, 2)
}

// seededRunnerWith seeds n events over workers × streams. With one worker
// the seed is deterministic (the worker fills its streams in turn); with
// more, workers race and streams may get unequal shares.
func seededRunnerWith(t *testing.T, f *fakeServer, url string, n int64, workers, streams int) *runner {
	t.Helper()
	c := testConfig(url)
	c.Read, c.Seed, c.Concurrency, c.Streams, c.Duration = true, n, workers, streams, 2*time.Second
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	r := newRunner(c, nil)
	t.Cleanup(r.closeClients)
	if _, err := r.seed(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r.head != uint64(n) || len(f.log) != int(n) {
		t.Fatalf("head %d, log %d", r.head, len(f.log))
	}
	return r
}

func TestSSECatchUp(t *testing.T) {
	for _, stream := range []bool{false, true} {
		f, srv := newFakeServer(t)
		// One worker, four streams of 250 each: a deterministic seed.
		r := seededRunnerWith(t, f, srv.URL, 1000, 1, 4)
		// Six catch-ups, counted as requests.
		p, err := r.runLoopPhase(context.Background(), "sse", bound{requests: 6}, &sseOp{stream: stream})
		if err != nil {
			t.Fatal(err)
		}
		if p.Errors != 0 || p.Requests != 6 || p.hist.Count() != 6 {
			t.Fatalf("stream=%v: phase %+v", stream, p)
		}
		want := int64(6 * 1000) // $all: every event each time
		if stream {
			want = 6 * 250 // 4 streams of 250
		}
		if p.Events != want || p.LatencyMs.Max <= 0 {
			t.Fatalf("stream=%v: %d events, want %d; latency %+v", stream, p.Events, want, p.LatencyMs)
		}
		key := map[bool]string{false: "sse-all", true: "sse-stream"}[stream]
		if f.requests[key] != 6 {
			t.Fatalf("server saw %v", f.requests)
		}
	}
}

func TestSSEBoundedByEvents(t *testing.T) {
	f, srv := newFakeServer(t)
	r := seededRunner(t, f, srv.URL, 2000)
	p, err := r.runLoopPhase(context.Background(), "sse", bound{events: 5000}, &sseOp{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Errors != 0 || p.Events < 5000 || p.Events > 5000+2*sseReport+2000 {
		t.Fatalf("phase %+v", p)
	}
}

// A subscription that stops short of the head ends with the phase, its
// events counted, neither completed nor failed.
func TestSSEStalledIsBoundedByDuration(t *testing.T) {
	f, srv := newFakeServer(t)
	r := seededRunner(t, f, srv.URL, 1000)
	f.sseStallAfter = 300
	start := time.Now()
	p, err := r.runLoopPhase(context.Background(), "sse", bound{duration: 300 * time.Millisecond}, &sseOp{})
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 3*time.Second {
		t.Fatalf("phase took %v", el)
	}
	if p.Errors != 0 || p.Requests != 0 || p.Events != 2*300 {
		t.Fatalf("phase %+v", p)
	}
}

func TestSSEErrors(t *testing.T) {
	for _, tc := range []struct {
		kind  string
		setup func(f *fakeServer)
	}{
		{"sse-order", func(f *fakeServer) { f.sseSkip = 37 }},
		{"sse-error", func(f *fakeServer) { f.sseError = true }},
	} {
		f, srv := newFakeServer(t)
		r := seededRunner(t, f, srv.URL, 500)
		tc.setup(f)
		p, err := r.runLoopPhase(context.Background(), "sse", bound{requests: 4}, &sseOp{})
		if err != nil {
			t.Fatal(err)
		}
		if p.Errors != 4 || p.ErrorsByKind[tc.kind] != 4 || p.hist.Count() != 0 {
			t.Fatalf("%s: phase %+v", tc.kind, p)
		}
	}
}

func TestSSEScanner(t *testing.T) {
	long := strings.Repeat("x", 600<<10) // longer than the reader's buffer
	in := ": subscribed\n\n" +
		"id: 1\nevent: A\ndata: {}\n\n" +
		"event: noid\ndata: {}\n\n" + // no id: not an event
		": heartbeat\n\n" +
		"id: 2\r\nevent: B\r\ndata: " + long + "\r\n\r\n" +
		"data: " + long + "\nid: 3\n\n" +
		"id:4\n\n" +
		"id: 5\nevent: error\ndata: \"x\"\n\n"
	sc := newSSEScanner(strings.NewReader(in))
	for want := uint64(1); want <= 4; want++ {
		id, err := sc.next()
		if err != nil || id != want {
			t.Fatalf("got %d %v, want %d", id, err, want)
		}
	}
	if _, err := sc.next(); !errors.Is(err, errSSEServer) {
		t.Fatalf("error message: %v", err)
	}
	if _, err := sc.next(); err != io.ErrUnexpectedEOF {
		t.Fatalf("end: %v", err)
	}
	if _, err := newSSEScanner(strings.NewReader("id: x1\n\n")).next(); err == nil {
		t.Fatal("bad id accepted")
	}
	for _, bad := range []string{"", "-1", "1a", "12345678901234567890"} {
		if _, ok := parseID([]byte(bad)); ok {
			t.Fatalf("parseID(%q) ok", bad)
		}
	}
}

// Cancelling the run ends a subscription the server has stopped feeding at
// once, not at the phase's end.
func TestSSEStopsWhenCancelled(t *testing.T) {
	f, srv := newFakeServer(t)
	r := seededRunner(t, f, srv.URL, 1000)
	f.sseStallAfter = 300
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	p, err := r.runLoopPhase(ctx, "sse", bound{duration: time.Hour}, &sseOp{})
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("phase took %v", el)
	}
	if p.Errors != 0 || p.Events != 2*300 {
		t.Fatalf("phase %+v", p)
	}
}
