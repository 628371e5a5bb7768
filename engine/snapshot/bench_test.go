package snapshot

import (
	"flag"
	"fmt"
	"strings"

	"math/rand/v2"
	"testing"

	"github.com/eventd/eventd/engine"
	"github.com/eventd/eventd/engine/reducer"

	"github.com/eventd/eventd/engine/jsonv"
)

// benchState builds a realistic state of about size bytes as JSON: a
// customer with an order history (line items with SKUs, prices, statuses,
// timestamps), the shape registered reducers' append and merge ops grow.
func benchState(size int) []byte {
	rng := rand.New(rand.NewPCG(7, 7))
	st := map[string]any{
		"customerId": "cust-4711", "email": "ann.example@example.com", "name": "Ann Example",
		"address": map[string]any{"city": "Oslo", "zip": "0150", "street": "Karl Johans gate 1"},
	}
	var orders []any
	statuses := []string{"placed", "paid", "shipped", "delivered", "returned"}
	n := 200 // the fixed members, roughly
	for i := 0; ; i++ {
		if n >= size {
			b, _ := jsonv.AppendObject(nil, st)
			return b
		}
		items := []any{}
		for j := 0; j < 1+rng.IntN(4); j++ {
			items = append(items, map[string]any{"sku": fmt.Sprintf("SKU-%05d", rng.IntN(20000)), "qty": 1 + rng.IntN(5),
				"price": fmt.Sprintf("%d.%02d", rng.IntN(300), rng.IntN(100))})
		}
		order := map[string]any{"orderId": fmt.Sprintf("order-%08d", i), "status": statuses[rng.IntN(len(statuses))],
			"placedAt": fmt.Sprintf("2024-%02d-%02dT%02d:%02d:00.000Z", 1+rng.IntN(12), 1+rng.IntN(28), rng.IntN(24), rng.IntN(60)), "items": items}
		ob, _ := jsonv.AppendObject(nil, order)
		n += len(ob) + 1
		orders = append(orders, order)
		st["orders"] = orders
		st["orderCount"] = i + 1
	}
}

// BenchmarkCodec measures what each compression does to real states: size
// after (B/state, and the ratio), and the time to encode and decode.
func BenchmarkCodec(b *testing.B) {
	for _, size := range []int{1 << 10, 100 << 10, 10 << 20} {
		state := benchState(size)
		for _, c := range []Codec{CodecNone, CodecS2, CodecZstd} {
			name := fmt.Sprintf("size=%s/codec=%s", human(size), c)
			b.Run(name+"/op=encode", func(b *testing.B) {
				var v []byte
				b.SetBytes(int64(len(state)))
				for b.Loop() {
					m := Snapshot{StreamID: "cust-4711", Version: 100}
					v, _ = encodeValue(&m, state, c)
				}
				b.ReportMetric(float64(len(v)), "B/stored")
				b.ReportMetric(float64(len(state))/float64(len(v)), "ratio")
			})
			m := Snapshot{StreamID: "cust-4711", Version: 100}
			v, _ := encodeValue(&m, state, c)
			b.Run(name+"/op=decode", func(b *testing.B) {
				b.SetBytes(int64(len(state)))
				for b.Loop() {
					_, codec, raw, body, err := decodeMeta(v)
					if err == nil {
						_, err = decodeState(codec, raw, body)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkTake measures taking a snapshot of a state of each size
// (encoding, compressing, the synced write), the replay aside.
func BenchmarkTake(b *testing.B) {
	for _, size := range []int{1 << 10, 100 << 10, 10 << 20} {
		state, _ := jsonv.DecodeObject(benchState(size))
		b.Run("size="+human(size), func(b *testing.B) {
			e := openEnv(b, b.TempDir(), Options{Retain: 2})
			e.add("cust-4711", "CustomerCreated", `{}`)
			for b.Loop() {
				if _, err := e.snaps.Put(ctx, "cust-4711", 1, state); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func human(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%dMiB", n>>20)
	}
	return fmt.Sprintf("%dKiB", n>>10)
}

// BenchmarkReplayLongStream replays one stream of -replay-events events
// (~200-byte UserUpdated events, default reducer): from version 0, and
// from a snapshot 100 events back.
func BenchmarkReplayLongStream(b *testing.B) {
	n := uint64(*replayEvents)
	e := openEnv(b, b.TempDir(), Options{})
	pad := strings.Repeat("x", 120)
	batch := make([]engine.Proposed, 1000)
	for v := uint64(0); v < n; v += uint64(len(batch)) {
		k := min(uint64(len(batch)), n-v)
		for i := range batch[:k] {
			batch[i] = engine.Proposed{Type: "UserUpdated", Data: []byte(fmt.Sprintf(`{"updates":{"n":%d,"pad":"%s","tag":"t%d"}}`, v+uint64(i), pad, i%7))}
		}
		if _, err := e.store.Append(ctx, "user-long", engine.Any, batch[:k]); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := e.snaps.Take(ctx, "user-long", n-100); err != nil {
		b.Fatal(err)
	}
	for _, use := range []bool{false, true} {
		b.Run(fmt.Sprintf("events=%d/snapshot=%v", n, use), func(b *testing.B) {
			for b.Loop() {
				r, err := e.snaps.Replay(ctx, "user-long", n, reducer.Default, use, nil)
				if err != nil {
					b.Fatal(err)
				}
				if use && r.SnapshotVersion != n-100 || r.SnapshotVersion+r.Applied != n {
					b.Fatalf("snapshot %d applied %d", r.SnapshotVersion, r.Applied)
				}
			}
		})
	}
}

var replayEvents = flag.Int("replay-events", 1_000_000, "events of the stream BenchmarkReplayLongStream replays")
