package engine

import (
	"flag"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// benchData is a ~200-byte JSON event body.
var benchData = []byte(`{"pad":"` + strings.Repeat("x", 190) + `"}`)

func policyName(p FsyncPolicy) string {
	return map[FsyncPolicy]string{FsyncAlways: "always", FsyncNever: "never", FsyncInterval: "interval"}[p]
}

// BenchmarkAppend measures durable appends: b.N appends of `batch` events,
// spread over `writers` goroutines, each on its own streams.
func BenchmarkAppend(b *testing.B) {
	for _, batch := range []int{1, 100} {
		for _, writers := range []int{1, 64} {
			for _, policy := range []FsyncPolicy{FsyncAlways, FsyncNever} {
				name := fmt.Sprintf("batch=%d/writers=%d/fsync=%s", batch, writers, policyName(policy))
				b.Run(name, func(b *testing.B) { benchAppend(b, batch, writers, policy) })
			}
		}
	}
}

func benchAppend(b *testing.B, batch, writers int, policy FsyncPolicy) {
	s := openT(b, b.TempDir(), Options{Fsync: policy, SegmentSize: 64 << 20})
	defer s.Close()
	warmToFilled(b, s)
	evs := make([]Proposed, batch)
	for i := range evs {
		evs[i] = Proposed{Type: "BenchEvent", Data: benchData}
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	b.SetBytes(int64(batch * len(benchData)))
	b.ResetTimer()
	start := time.Now()
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stream := fmt.Sprintf("bench-%d", w)
			for next.Add(1) <= int64(b.N) {
				if _, err := s.Append(ctx, stream, Any, evs); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	b.ReportMetric(float64(b.N*batch)/el.Seconds(), "events/s")
	st := s.Stats()
	if st.Batches > 0 {
		b.ReportMetric(float64(st.EventsWritten)/float64(st.Batches), "events/batch")
	}
}

// fill appends n ~200-byte events over `streams` streams, in batches.
func fill(b testing.TB, s *Store, n, streams int) {
	const per = 100
	evs := make([]Proposed, per)
	for i := range evs {
		evs[i] = Proposed{Type: "BenchEvent", Data: benchData}
	}
	var wg sync.WaitGroup
	var next atomic.Int64
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := next.Add(1) - 1
				if k*per >= int64(n) {
					return
				}
				if _, err := s.Append(ctx, fmt.Sprintf("stream-%d", k%int64(streams)), Any, evs); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// BenchmarkReadAll reads $all in pages of 1000; b.N counts events.
// api=slice is ReadAll (fresh buffers the events alias), api=func is
// ReadAllFunc (pooled buffers, events valid during the callback).
func BenchmarkReadAll(b *testing.B) {
	s := openT(b, b.TempDir(), Options{Fsync: FsyncNever})
	defer s.Close()
	const n = 500_000
	fill(b, s, n, 1000)
	for _, pooled := range []bool{false, true} {
		b.Run(map[bool]string{false: "api=slice", true: "api=func"}[pooled], func(b *testing.B) {
			b.SetBytes(int64(len(benchData)))
			b.ReportAllocs()
			start := time.Now()
			from := uint64(0)
			for read := 0; read < b.N; {
				lim := min(1000, b.N-read)
				if pooled {
					var last uint64
					_, _, err := s.ReadAllFunc(from, Forward, lim, Filter{}, func(e *Event) error {
						last = e.Position
						read++
						return nil
					})
					if err != nil {
						b.Fatal(err)
					}
					from = last % n
					continue
				}
				page, err := s.ReadAll(from, Forward, lim, Filter{})
				if err != nil {
					b.Fatal(err)
				}
				read += len(page.Events)
				from = page.Events[len(page.Events)-1].Position % n
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
		})
	}
}

// BenchmarkReadStream reads whole 500-event streams whose events are
// interleaved with other streams'; b.N counts events.
func BenchmarkReadStream(b *testing.B) {
	s := openT(b, b.TempDir(), Options{Fsync: FsyncNever})
	defer s.Close()
	const streams = 1000
	fill(b, s, 500*streams, streams)
	for _, pooled := range []bool{false, true} {
		b.Run(map[bool]string{false: "api=slice", true: "api=func"}[pooled], func(b *testing.B) {
			b.SetBytes(int64(len(benchData)))
			b.ReportAllocs()
			start := time.Now()
			for read, k := 0, 0; read < b.N; k++ {
				id, lim := fmt.Sprintf("stream-%d", k%streams), min(1000, b.N-read)
				if pooled {
					_, _, err := s.ReadStreamFunc(id, 0, Forward, lim, func(e *Event) error { read++; return nil })
					if err != nil {
						b.Fatal(err)
					}
					continue
				}
				page, err := s.ReadStream(id, 0, Forward, lim)
				if err != nil {
					b.Fatal(err)
				}
				read += len(page.Events)
			}
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
		})
	}
}

var openEvents = flag.Int("open-events", 1_000_000, "events in the store BenchmarkOpen reopens (the 10M run: -open-events 10000000)")

// BenchmarkOpen measures start-up with 1M events (-open-events), with the index
// checkpoint and without it (a full log scan), and reports the index's heap
// bytes per event.
func BenchmarkOpen(b *testing.B) {
	n := *openEvents
	dir := b.TempDir()
	s := openT(b, dir, Options{Fsync: FsyncNever})
	fill(b, s, n, 10_000)
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	for _, ckpt := range []bool{true, false} {
		b.Run(fmt.Sprintf("events=%dk/checkpoint=%v", n/1000, ckpt), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if !ckpt {
					b.StopTimer()
					_ = s.fs.Remove(s.checkpointPath())
					b.StartTimer()
				}
				runtime.GC()
				var m0, m1 runtime.MemStats
				runtime.ReadMemStats(&m0)
				s2 := openT(b, dir, Options{Fsync: FsyncNever})
				b.StopTimer()
				runtime.GC()
				runtime.ReadMemStats(&m1)
				b.ReportMetric(float64(int64(m1.HeapAlloc)-int64(m0.HeapAlloc))/float64(n), "heap-bytes/event")
				if s2.Head() != uint64(n) {
					b.Fatalf("head %d", s2.Head())
				}
				s2.Close() // writes the checkpoint (again)
				b.StartTimer()
			}
		})
	}
}

// warmToFilled appends until the store writes into a zero-filled segment
// (a new log starts in one that is not, and moves as soon as the
// preallocator has one ready): the steady state a running daemon is in.
func warmToFilled(b testing.TB, s *Store) {
	deadline := time.Now().Add(30 * time.Second)
	for !s.log.Filled() {
		if time.Now().After(deadline) {
			b.Fatal("the store did not move into a zero-filled segment within 30s")
		}
		if _, err := s.Append(ctx, "warm-up", Any, []Proposed{{Type: "WarmUp", Data: benchData}}); err != nil {
			b.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
