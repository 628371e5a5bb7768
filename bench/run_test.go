package bench

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

func testConfig(url string) Config {
	var c Config
	c.RegisterFlags(newFlagSet())
	c.URL = url
	c.Quiet = true
	c.RunID = "t1"
	return c
}

func mustRun(t *testing.T, c Config) *Report {
	t.Helper()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	rep, err := Run(context.Background(), c, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// checkVersions asserts that every stream's expected versions advanced
// from 0 in steps of what was written, with nothing else in between.
func checkVersions(t *testing.T, f *fakeServer, streams int) {
	t.Helper()
	if len(f.expected) == 0 || len(f.expected) > streams {
		t.Fatalf("%d streams written, want 1…%d", len(f.expected), streams)
	}
	for id, exp := range f.expected {
		if !strings.HasPrefix(id, "bench-t1-w") {
			t.Fatalf("stream id %q", id)
		}
		if exp[0] != 0 || !slices.IsSorted(exp) {
			t.Fatalf("stream %s: expected versions %v", id, exp)
		}
		for i := 1; i < len(exp); i++ {
			if exp[i] == exp[i-1] {
				t.Fatalf("stream %s: expected version %d sent twice: %v", id, exp[i], exp)
			}
		}
	}
}

func TestRunAppendSingle(t *testing.T) {
	for _, kind := range []string{"raw", "std"} {
		t.Run(kind, func(t *testing.T) {
			f, srv := newFakeServer(t)
			c := testConfig(srv.URL)
			c.Client, c.Concurrency, c.Streams, c.Events = kind, 4, 3, 600
			rep := mustRun(t, c)
			p := rep.Phases[0]
			if p.Name != "append" || p.Events != 600 || p.Requests != 600 || p.Errors != 0 {
				t.Fatalf("phase %+v", p)
			}
			if f.requests["single"] != 600 || len(f.log) != 600 || f.requests["batch"] != 0 {
				t.Fatalf("server saw %v, %d events", f.requests, len(f.log))
			}
			if p.hist.Count() != 600 || p.LatencyMs.P50 <= 0 || p.LatencyMs.Max < p.LatencyMs.P99 {
				t.Fatalf("latency %+v", p.LatencyMs)
			}
			checkVersions(t, f, 12)
		})
	}
}

func TestRunAppendBatch(t *testing.T) {
	f, srv := newFakeServer(t)
	c := testConfig(srv.URL)
	c.Concurrency, c.Streams, c.Batch, c.Events, c.Size = 3, 2, 7, 100, 50
	rep := mustRun(t, c)
	p := rep.Phases[0]
	if p.Events != 100 || p.Requests != 15 || p.Errors != 0 { // 14 × 7 + 2
		t.Fatalf("phase %+v", p)
	}
	if f.requests["batch"] != 15 || len(f.log) != 100 {
		t.Fatalf("server saw %v, %d events", f.requests, len(f.log))
	}
	if got := len(f.log[0].Data); got != 50 {
		t.Fatalf("eventData %d bytes, want 50", got)
	}
	checkVersions(t, f, 6)
}

func TestRunCountsConflictsAsErrorsAndResyncs(t *testing.T) {
	f, srv := newFakeServer(t)
	f.conflictEvery = 10
	c := testConfig(srv.URL)
	c.Concurrency, c.Streams, c.Events = 4, 2, 500
	rep := mustRun(t, c)
	p := rep.Phases[0]
	if f.conflicts != 50 || p.Errors != 50 || p.ErrorsByKind["409"] != 50 {
		t.Fatalf("conflicts %d, errors %d %v", f.conflicts, p.Errors, p.ErrorsByKind)
	}
	if p.Events != 450 || p.Requests != 500 {
		t.Fatalf("phase %+v", p)
	}
	if len(f.log) != 500 { // 450 of ours + 50 rogue
		t.Fatalf("log has %d events", len(f.log))
	}
	var sb strings.Builder
	rep.WriteTable(&sb)
	if !strings.Contains(sb.String(), "409×50") {
		t.Fatalf("table does not show the 409s:\n%s", sb.String())
	}
}

func TestRunIsBoundedByDuration(t *testing.T) {
	_, srv := newFakeServer(t)
	c := testConfig(srv.URL)
	c.Concurrency, c.Duration = 2, 300*time.Millisecond
	start := time.Now()
	rep := mustRun(t, c)
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("run took %v", el)
	}
	if p := rep.Phases[0]; p.Events == 0 || p.ElapsedSec < 0.3 || p.ElapsedSec > 1.5 {
		t.Fatalf("phase %+v", p)
	}
}

func TestRunStopsWhenCancelled(t *testing.T) {
	_, srv := newFakeServer(t)
	c := testConfig(srv.URL)
	c.Concurrency, c.Duration = 2, time.Hour
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	rep, err := Run(ctx, c, io.Discard)
	if err != nil || rep.Phases[0].ElapsedSec > 2 {
		t.Fatalf("rep %+v err %v", rep, err)
	}
}

func TestRunRead(t *testing.T) {
	for _, seed := range []int64{5000, 0} {
		f, srv := newFakeServer(t)
		if seed == 0 { // read what an earlier run left
			c := testConfig(srv.URL)
			c.Concurrency, c.Batch, c.Events = 2, 50, 3000
			mustRun(t, c)
		}
		c := testConfig(srv.URL)
		c.Read, c.Seed, c.Limit, c.Events, c.Concurrency, c.Streams = true, seed, 100, 2000, 4, 2
		rep := mustRun(t, c)
		var names []string
		for _, p := range rep.Phases {
			names = append(names, p.Name)
			if p.Errors != 0 || p.Events < 2000 && p.Name != "seed" {
				t.Fatalf("seed %d: phase %+v", seed, p)
			}
		}
		want := []string{"read-stream", "read-all", "replay", "sse-all", "sse-stream"}
		if seed > 0 {
			want = append([]string{"seed"}, want...)
			if rep.Phases[0].Events != seed || len(f.log) != int(seed) {
				t.Fatalf("seeded %d events, log %d", rep.Phases[0].Events, len(f.log))
			}
		}
		if !slices.Equal(names, want) {
			t.Fatalf("phases %v, want %v", names, want)
		}
		if f.requests["stream"] < 20 || f.requests["all"] < 20 || f.requests["replay"] < 1 ||
			f.requests["sse-all"] < 1 || f.requests["sse-stream"] < 1 {
			t.Fatalf("requests %v", f.requests)
		}
	}
}

func TestRunReportsTransportErrors(t *testing.T) {
	_, srv := newFakeServer(t)
	url := srv.URL
	srv.Close()
	c := testConfig(url)
	c.Concurrency, c.Duration = 2, 100*time.Millisecond
	rep := mustRun(t, c)
	p := rep.Phases[0]
	if p.Events != 0 || p.Errors == 0 || p.ErrorsByKind["transport"] != p.Errors {
		t.Fatalf("phase %+v", p)
	}
}
