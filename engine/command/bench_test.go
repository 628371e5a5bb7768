package command

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eventd/eventd/engine"
	"github.com/eventd/eventd/engine/reducer"
)

// BenchmarkCommandVsAppend compares sync CreateUser commands with plain
// single-event appends of the same event, both from 16 concurrent clients
// on their own streams, in one run. A command writes two events (its
// UserCreated and CommandCompleted, one AppendMulti); events/s counts
// both, commands/s (= appends/s for op=append) the requests.
//
//	go test -run '^$' -bench CommandVsAppend -benchtime 3s ./engine/command/
func BenchmarkCommandVsAppend(b *testing.B) {
	for _, policy := range []engine.FsyncPolicy{engine.FsyncAlways, engine.FsyncNever} {
		for _, op := range []string{"append", "command"} {
			name := fmt.Sprintf("op=%s/clients=16/fsync=%s", op, map[engine.FsyncPolicy]string{engine.FsyncAlways: "always", engine.FsyncNever: "never"}[policy])
			b.Run(name, func(b *testing.B) { benchOp(b, op, 16, policy) })
		}
	}
}

func benchOp(b *testing.B, op string, clients int, policy engine.FsyncPolicy) {
	st, err := engine.Open(b.TempDir(), engine.Options{Fsync: policy, Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	svc, err := Open(st, reducer.NewRegistry(), Options{Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	defer svc.Close()
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				u := fmt.Sprintf("user-%d-%d", c, i)
				data := []byte(`{"userId":"` + u + `","email":"` + u + `@example.com","name":"Ann Example"}`)
				if op == "append" {
					if _, err := st.Append(ctx, u, engine.NoStream, []engine.Proposed{{Type: "UserCreated", Data: data}}); err != nil {
						b.Error(err)
						return
					}
					continue
				}
				o, err := svc.Submit(ctx, Request{Type: "CreateUser", Data: data, Expected: engine.Any})
				if err != nil || o.Command.Status != Completed {
					b.Errorf("%v %+v", err, o.Failure)
					return
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	perOp := 1.0
	if op == "command" {
		perOp = 2
	}
	b.ReportMetric(float64(b.N)/el, op+"s/s")
	b.ReportMetric(float64(b.N)*perOp/el, "events/s")
	if s := st.Stats(); s.Batches > 0 {
		b.ReportMetric(float64(s.EventsWritten)/float64(s.Batches), "events/batch")
	}
}

// BenchmarkOpen measures what a start costs per known command: folding
// $commands into the table (b.N opens of a log with 50,000 commands).
func BenchmarkOpen(b *testing.B) {
	const n = 50_000
	st, err := engine.Open(b.TempDir(), engine.Options{Fsync: engine.FsyncNever, Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	svc, err := Open(st, reducer.NewRegistry(), Options{Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	var next atomic.Int64
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := next.Add(1); i <= n; i = next.Add(1) {
				u := fmt.Sprint("user-", i)
				if _, err := svc.Submit(ctx, createUser(u, "")); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	_ = svc.Close()
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		s, err := Open(st, reducer.NewRegistry(), Options{Logger: quiet()})
		if err != nil || s.Total() != n {
			b.Fatal(err, s.Total())
		}
		_ = s.Close()
	}
	b.ReportMetric(float64(time.Since(start).Nanoseconds())/float64(b.N)/n, "ns/command")
}
