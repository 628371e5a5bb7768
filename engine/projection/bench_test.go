package projection

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eventd/eventd/engine"
	"github.com/eventd/eventd/engine/derived"
)

// The catch-up benchmarks read one log of benchEvents events of about 200
// bytes, over benchKeys streams user-<n> (10 events each), made once per
// test binary run and removed by TestMain.
// Set benchDirEnv to a directory to keep the log there between runs.
const (
	benchEvents = 1_000_000
	benchKeys   = 100_000
	benchDirEnv = "EVENTD_PROJECTION_BENCH_DIR"
)

var (
	benchOnce  sync.Once
	benchDir   string
	benchStore *engine.Store
	benchErr   error
)

// openBenchStore makes (once) and returns the benchmarks' log.
func openBenchStore(b *testing.B) *engine.Store { return openBenchStoreT(b) }

func openBenchStoreT(b testing.TB) *engine.Store {
	benchOnce.Do(func() {
		dir := os.Getenv(benchDirEnv) // kept between runs
		if dir == "" {
			if benchDir, benchErr = os.MkdirTemp("", "eventd-projection-bench-"); benchErr != nil {
				return
			}
			dir = benchDir
		}
		benchStore, benchErr = engine.Open(filepath.Join(dir, "store"), engine.Options{Fsync: engine.FsyncNever, Logger: quiet()})
		if benchErr != nil || benchStore.Head() >= benchEvents {
			return
		}
		pad := strings.Repeat("x", 60)
		const perAppend = 100
		parts := make([]engine.StreamAppend, perAppend)
		for i := 0; i < benchEvents; i += perAppend {
			for k := range parts {
				n := i + k
				key, ver := n%benchKeys, n/benchKeys+1
				typ, data := "UserUpdated", fmt.Sprintf(`{"updates":{"n":%d,"seen":"2024-01-15T10:30:00.000Z","pad":"%s"}}`, n, pad)
				if ver == 1 {
					typ, data = "UserCreated", fmt.Sprintf(`{"userId":"user-%d","name":"user %d","email":"user%d@example.com","pad":"%s"}`, key, key, key, pad)
				}
				parts[k] = engine.StreamAppend{StreamID: fmt.Sprintf("user-%d", key), Expected: engine.Any,
					Events: []engine.Proposed{{Type: typ, Data: []byte(data)}}}
			}
			if _, benchErr = benchStore.AppendMulti(context.Background(), parts); benchErr != nil {
				return
			}
		}
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchStore
}

// closeBenchStore removes the benchmarks' log (TestMain).
func closeBenchStore() {
	if benchStore != nil {
		_ = benchStore.Close()
	}
	if benchDir != "" {
		_ = os.RemoveAll(benchDir)
	}
}

// BenchmarkCatchUp measures a projection (or the three system ones)
// catching up from nothing over the 1M-event log, in events/s.
func BenchmarkCatchUp(b *testing.B) {
	cases := []struct {
		name string
		def  Definition // zero: the system projections
	}{
		{"kind=count", Definition{Name: "count", Kind: KindCount}},
		{"kind=state/reducer=default/keys=100k", Definition{Name: "state", Kind: KindState, StreamPrefix: "user-"}},
		{"kind=system", Definition{}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			st := openBenchStore(b)
			reg := newRegistry()
			var cpu time.Duration // CPU time of the process while timed (user + system)
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				dir := b.TempDir()
				db, err := derived.Open(dir, nil, quiet())
				if err != nil {
					b.Fatal(err)
				}
				system := c.def.Kind == ""
				head := st.Head()
				b.StartTimer()
				cpu0 := cpuTime()
				m, err := Open(db, st, reg, Options{Logger: quiet(), noSystem: !system, FlushEvents: benchFlushEvents()})
				if err != nil {
					b.Fatal(err)
				}
				ids := []string{ByEventType, ByCategory, StreamStats}
				if !system {
					in, _, err := m.Create(context.Background(), c.def)
					if err != nil {
						b.Fatal(err)
					}
					ids = []string{in.ID}
				}
				for _, id := range ids {
					if err := m.Wait(context.Background(), id, head); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				cpu += cpuTime() - cpu0
				if !system {
					if in, _ := m.Get(ids[0]); in.EventsProcessed < benchEvents {
						b.Fatalf("processed %d events, want %d", in.EventsProcessed, benchEvents)
					}
					// The log is shared: a projection left defined would run
					// in every later Open.
					if err := m.Delete(context.Background(), ids[0]); err != nil {
						b.Fatal(err)
					}
				}
				if err := m.Close(); err != nil {
					b.Fatal(err)
				}
				if err := db.Close(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(benchEvents)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(cpu)/float64(benchEvents*b.N), "cpu-ns/event")
		})
	}
}

// BenchmarkWhere measures a list query with a where condition over a
// 100k-entry read model (one match), scanning every entry.
func BenchmarkWhere(b *testing.B) {
	st := openBenchStore(b)
	db, err := derived.Open(b.TempDir(), nil, quiet())
	if err != nil {
		b.Fatal(err)
	}
	m, err := Open(db, st, newRegistry(), Options{Logger: quiet(), noSystem: true})
	if err != nil {
		b.Fatal(err)
	}
	in, _, err := m.Create(context.Background(), Definition{Name: "users", Kind: KindState, StreamPrefix: "user-", EventTypes: []string{"UserCreated"}})
	if err != nil {
		b.Fatal(err)
	}
	if err := m.Wait(context.Background(), in.ID, st.Head()); err != nil {
		b.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // let the last flush land: the entries are read from pebble
	q := Query{Limit: 1000, Where: []Cond{{Field: "name", Value: "user 77777"}}}
	b.ResetTimer()
	for range b.N {
		page, err := m.Query(in.ID, q)
		if err != nil {
			b.Fatal(err)
		}
		if len(page.Items) != 1 || page.More {
			b.Fatalf("where matched %d items (more %v), want 1", len(page.Items), page.More)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/query")
	b.StopTimer()
	if err := m.Delete(context.Background(), in.ID); err != nil {
		b.Fatal(err)
	}
	_ = m.Close()
	_ = db.Close()
}

// cpuTime is the CPU time this process has used: the benchmarks report it
// per event too, since the machine they run on may be shared.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchFlushEvents is EVENTD_PROJECTION_BENCH_FLUSH (default: Options'
// default), to compare flush cadences.
func benchFlushEvents() int {
	n, _ := strconv.Atoi(os.Getenv("EVENTD_PROJECTION_BENCH_FLUSH"))
	return n
}
