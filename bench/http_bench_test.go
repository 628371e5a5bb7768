package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"testing"

	"github.com/eventd/eventd/engine"
	"github.com/eventd/eventd/server"
)

// The suites below run the real engine and server in this process, on a
// fresh data directory, behind a real 127.0.0.1 listener, and drive them
// with the load generator. One op is one HTTP request.
//
//	go test -run '^$' -bench HTTP -benchtime 3s ./bench/

// startInProcess opens a store on a temporary directory and serves it.
func startInProcess(b *testing.B, fsync engine.FsyncPolicy) string {
	b.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	store, err := engine.Open(b.TempDir(), engine.Options{Fsync: fsync, Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(server.New(store, server.Config{Logger: quiet}))
	b.Cleanup(func() {
		srv.Close()
		if err := store.Close(); err != nil {
			b.Error(err)
		}
	})
	return srv.URL
}

var fsyncPolicies = []struct {
	name   string
	policy engine.FsyncPolicy
}{{"always", engine.FsyncAlways}, {"never", engine.FsyncNever}}

func benchConfig(url string) Config {
	c := testConfig(url)
	c.RunID = ""
	return c
}

// report publishes a phase's rates and latencies as benchmark metrics.
func report(b *testing.B, p PhaseResult) {
	if p.Errors > 0 {
		b.Fatalf("%s: %d errors: %v", p.Name, p.Errors, p.ErrorsByKind)
	}
	b.ReportMetric(p.EventsPerSec, "events/s")
	b.ReportMetric(p.LatencyMs.P50*1000, "p50-µs")
	b.ReportMetric(p.LatencyMs.P99*1000, "p99-µs")
}

func BenchmarkHTTPAppend(b *testing.B) {
	for _, tc := range []struct{ batch, clients int }{
		{1, 1}, {1, 16}, {1, 64}, {100, 1}, {100, 16},
	} {
		for _, fs := range fsyncPolicies {
			name := fmt.Sprintf("batch=%d/clients=%d/fsync=%s", tc.batch, tc.clients, fs.name)
			b.Run(name, func(b *testing.B) {
				c := benchConfig(startInProcess(b, fs.policy))
				c.Batch, c.Concurrency = tc.batch, tc.clients
				c.Events = int64(b.N) * int64(tc.batch)
				if err := c.Validate(); err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(tc.batch * c.Size))
				b.ResetTimer()
				rep, err := Run(context.Background(), c, nil)
				b.StopTimer()
				if err != nil {
					b.Fatal(err)
				}
				report(b, rep.Phases[0])
			})
		}
	}
}

// BenchmarkHTTPRead seeds 20,000 events (fsync never) outside the timer,
// then measures one read kind; one op is one page (or one replay, or one
// SSE catch-up of all 20,000 events).
func BenchmarkHTTPRead(b *testing.B) {
	for _, kind := range []string{"read-stream", "read-all", "replay", "sse-all"} {
		for _, clients := range []int{1, 16} {
			b.Run(fmt.Sprintf("kind=%s/clients=%d", kind, clients), func(b *testing.B) {
				url := startInProcess(b, engine.FsyncNever)
				c := benchConfig(url)
				c.Concurrency, c.Streams, c.Limit, c.Seed = clients, max(1, 16/clients), 1000, 20_000
				if err := c.Validate(); err != nil {
					b.Fatal(err)
				}
				rep, err := runReadBench(b, c, kind)
				if err != nil {
					b.Fatal(err)
				}
				report(b, rep)
			})
		}
	}
}

// runReadBench seeds, then runs b.N requests of one read kind.
func runReadBench(b *testing.B, c Config, kind string) (PhaseResult, error) {
	c.RunID = newRunID()
	r := newRunner(c, nil)
	defer r.closeClients()
	ctx := context.Background()
	if _, err := r.seed(ctx); err != nil {
		return PhaseResult{}, err
	}
	ops := map[string]op{"read-stream": &streamReadOp{limit: c.Limit}, "read-all": &allReadOp{limit: c.Limit}, "replay": &replayOp{}}
	b.ResetTimer()
	if kind == "sse-all" {
		p, err := r.runLoopPhase(ctx, kind, bound{requests: int64(b.N)}, &sseOp{})
		b.StopTimer()
		return p, err
	}
	p, err := r.runRequests(ctx, kind, int64(b.N), ops[kind])
	b.StopTimer()
	return p, err
}
