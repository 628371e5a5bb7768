package schema

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/eventd/eventd/engine"
)

// BenchmarkUpcast: one ~200-byte event through a 3-step chain (what every
// read of an old event pays), and through none (a current event).
func BenchmarkUpcast(b *testing.B) {
	r := New()
	if _, _, _, err := r.Put(context.Background(), def(b, "Person", `{"currentVersion":4,"upcasters":[
		{"from":1,"to":2,"ops":[{"op":"rename","from":"name","to":"fullName"},{"op":"default","path":"country","value":"US"}]},
		{"from":2,"to":3,"ops":[{"op":"remove","path":"legacy"},{"op":"move","from":"a","to":"b.c"}]},
		{"from":3,"to":4,"ops":[{"op":"map","path":"status","values":{"A":"active","I":"inactive"}}]}]}`)); err != nil {
		b.Fatal(err)
	}
	data := []byte(`{"name":"Ann Example","email":"ann@example.com","legacy":true,"a":5,"status":"A","tags":["x","y"],"address":{"city":"Oslo","zip":"0150"},"pad":"` + strings.Repeat("p", 40) + `"}`)
	b.Run("type=without-schema", func(b *testing.B) {
		e := engine.Event{Type: "OrderPlaced", SchemaVersion: 1, Data: data}
		for b.Loop() {
			if _, _, changed, _ := r.Upcast(&e, nil); changed {
				b.Fatal("upcast")
			}
		}
	})
	for _, v := range []uint32{1, 4} {
		b.Run(fmt.Sprintf("steps=%d", 4-v), func(b *testing.B) {
			e := engine.Event{Type: "Person", SchemaVersion: v, Data: data}
			var buf []byte
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				out, _, _, err := r.Upcast(&e, buf[:0])
				if err != nil {
					b.Fatal(err)
				}
				if out != nil {
					buf = out
				}
			}
		})
	}
}

// BenchmarkReadAllUpcaster reads $all of events whose types have no schema,
// with no upcaster installed and with a registry that has schemas for other
// types: the read path's cost of versioning for events it does not touch.
func BenchmarkReadAllUpcaster(b *testing.B) {
	s, err := engine.Open(b.TempDir(), engine.Options{Fsync: engine.FsyncNever})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const n = 100_000
	batch := make([]engine.Proposed, 1000)
	for i := range batch {
		batch[i] = engine.Proposed{Type: fmt.Sprintf("Plain%d", i%5), Data: []byte(`{"pad":"` + strings.Repeat("x", 180) + `"}`)}
	}
	for i := 0; i < n; i += len(batch) {
		if _, err := s.Append(context.Background(), fmt.Sprintf("s-%d", i%100), engine.Any, batch); err != nil {
			b.Fatal(err)
		}
	}
	reg := New()
	for i := 0; i < 20; i++ {
		if _, _, _, err := reg.Put(context.Background(), def(b, fmt.Sprintf("Versioned%d", i), `{"currentVersion":2,"upcasters":[{"from":1,"to":2,"ops":[{"op":"remove","path":"x"}]}]}`)); err != nil {
			b.Fatal(err)
		}
	}
	for _, installed := range []bool{false, true} {
		if installed {
			s.SetUpcaster(reg)
		}
		b.Run(fmt.Sprintf("upcaster=%v", installed), func(b *testing.B) {
			for b.Loop() {
				seen := 0
				for from := uint64(0); from < n; {
					next, _, err := s.ReadAllFunc(from, engine.Forward, 10000, engine.Filter{}, func(*engine.Event) error { seen++; return nil })
					if err != nil {
						b.Fatal(err)
					}
					if next == 0 {
						break
					}
					from = next
				}
				if seen != n {
					b.Fatalf("read %d events", seen)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
