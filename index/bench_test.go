package index

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
)

// A workload like the daemon's: events of ~200 bytes in 256 MiB segments,
// each event in a random one of `streams` streams, applied in batches.
const benchEventsPerSegment = 256 << 20 / 200

func benchIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("stream-%07d", i)
	}
	return ids
}

type benchWorkload struct {
	ids   []string
	rng   *rand.Rand
	batch []Entry
}

func newWorkload(streams, batch int) *benchWorkload {
	return &benchWorkload{ids: benchIDs(streams), rng: rand.New(rand.NewPCG(1, 2)), batch: make([]Entry, batch)}
}

// apply indexes len(w.batch) more events.
func (w *benchWorkload) apply(ix *Index) {
	head := ix.Head()
	for i := range w.batch {
		pos := head + uint64(i) + 1
		w.batch[i] = Entry{
			Pos:       pos,
			StreamID:  w.ids[w.rng.IntN(len(w.ids))],
			Loc:       L((pos-1)/benchEventsPerSegment, ((pos-1)%benchEventsPerSegment)*200),
			Timestamp: int64(pos) * 1000,
		}
	}
	ix.Apply(w.batch)
}

func (w *benchWorkload) build(n int) *Index {
	ix := New()
	for ix.Head() < uint64(n) {
		w.apply(ix)
	}
	return ix
}

func BenchmarkApply(b *testing.B) {
	for _, size := range []int{1, 1000} {
		b.Run(fmt.Sprintf("batch=%d", size), func(b *testing.B) {
			w := newWorkload(100_000, size)
			ix := New()
			events := 0
			for b.Loop() {
				if ix.Head() >= 2_000_000 { // bound the memory of long runs
					b.StopTimer()
					ix = New()
					runtime.GC()
					b.StartTimer()
				}
				w.apply(ix)
				events += size
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(events), "ns/event")
		})
	}
}

func BenchmarkLocate(b *testing.B) {
	const n = 1_000_000
	ix := newWorkload(n/10, 1000).build(n)
	rng := rand.New(rand.NewPCG(3, 4))
	pos := make([]uint64, 1<<16)
	for i := range pos {
		pos[i] = 1 + rng.Uint64N(n)
	}
	b.Run("random", func(b *testing.B) {
		i := 0
		for b.Loop() {
			if _, ok := ix.Locate(pos[i&(len(pos)-1)]); !ok {
				b.Fatal("not found")
			}
			i++
		}
	})
	b.Run("range=100", func(b *testing.B) {
		var dst []uint64
		i := 0
		for b.Loop() {
			dst = ix.LocateRange(pos[i&(len(pos)-1)]-min(pos[i&(len(pos)-1)]-1, 100), 100, dst[:0])
			i++
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*100), "ns/event")
	})
	b.Run("stream", func(b *testing.B) {
		ids := benchIDs(n / 10)
		i := 0
		for b.Loop() {
			ix.Stream(ids[pos[i&(len(pos)-1)]%uint64(len(ids))])
			i++
		}
	})
}

func BenchmarkCheckpoint(b *testing.B) {
	for _, n := range []int{1_000_000, 10_000_000} {
		b.Run(fmt.Sprintf("events=%s", countName(n)), func(b *testing.B) {
			ix := newWorkload(n/10, 1000).build(n)
			var buf bytes.Buffer
			if err := ix.WriteCheckpoint(&buf, nil); err != nil {
				b.Fatal(err)
			}
			data := bytes.Clone(buf.Bytes())
			b.Run("write", func(b *testing.B) {
				b.SetBytes(int64(len(data)))
				for b.Loop() {
					buf.Reset()
					if err := ix.WriteCheckpoint(&buf, nil); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(len(data))/float64(n), "bytes/event")
			})
			b.Run("read", func(b *testing.B) {
				b.SetBytes(int64(len(data)))
				for b.Loop() {
					if _, _, err := ReadCheckpoint(data); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

func countName(n int) string {
	if n%1_000_000 == 0 {
		return fmt.Sprintf("%dM", n/1_000_000)
	}
	return fmt.Sprint(n)
}

func heapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// measureMemory indexes n events over n/10 streams and returns the heap
// growth per event (after GC), the MemoryBytes estimate per event, the
// heap per event of the same index loaded from a checkpoint, and the time
// to index.
func measureMemory(tb testing.TB, n int) (built, estimate, loaded float64, took time.Duration) {
	w := newWorkload(n/10, 1000)
	before := heapAlloc()
	start := time.Now()
	ix := w.build(n)
	took = time.Since(start)
	built = float64(heapAlloc()-before) / float64(n)
	estimate = float64(ix.MemoryBytes()) / float64(n)

	var buf bytes.Buffer
	if err := ix.WriteCheckpoint(&buf, nil); err != nil {
		tb.Fatal(err)
	}
	ix = nil
	before = heapAlloc()
	ix2, _, err := ReadCheckpoint(buf.Bytes())
	if err != nil {
		tb.Fatal(err)
	}
	loaded = float64(heapAlloc()-before) / float64(n)
	runtime.KeepAlive(ix2)
	runtime.KeepAlive(&buf) // the checkpoint was in the baseline
	runtime.KeepAlive(w)
	return built, estimate, loaded, took
}

func BenchmarkMemory(b *testing.B) {
	for _, n := range []int{1_000_000, 10_000_000} {
		b.Run(fmt.Sprintf("events=%s", countName(n)), func(b *testing.B) {
			var built, estimate, loaded float64
			for b.Loop() {
				built, estimate, loaded, _ = measureMemory(b, n)
			}
			b.ReportMetric(built, "bytes/event")
			b.ReportMetric(estimate, "estimate-bytes/event")
			b.ReportMetric(loaded, "loaded-bytes/event")
		})
	}
}

// TestMemoryBudget keeps the 32 bytes/event budget honest at a size the
// test suite can afford (BenchmarkMemory measures 1M and 10M).
func TestMemoryBudget(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("measures the heap")
	}
	built, estimate, loaded, _ := measureMemory(t, 300_000)
	t.Logf("bytes/event: built %.1f, estimate %.1f, loaded %.1f", built, estimate, loaded)
	if built > 32 || loaded > 32 {
		t.Fatalf("over budget: built %.1f, loaded %.1f bytes/event", built, loaded)
	}
	if estimate < built*0.75 || estimate > built*1.25 {
		t.Fatalf("MemoryBytes estimate %.1f bytes/event, measured %.1f", estimate, built)
	}
}
