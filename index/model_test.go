package index

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
)

// model is the obviously correct index: a map and two arrays.
type model struct {
	locs    []uint64 // [pos-1]
	ts      []int64  // [pos-1]
	owner   []string // [pos-1]
	streams map[string][]uint64
}

func newModel() *model { return &model{streams: map[string][]uint64{}} }

func (m *model) head() uint64 { return uint64(len(m.locs)) }

func (m *model) apply(batch []Entry) {
	for _, e := range batch {
		m.locs = append(m.locs, e.Loc)
		m.ts = append(m.ts, e.Timestamp)
		m.owner = append(m.owner, e.StreamID)
		m.streams[e.StreamID] = append(m.streams[e.StreamID], e.Pos)
	}
}

func (m *model) truncate(pos uint64) {
	if pos >= m.head() {
		return
	}
	m.locs, m.ts, m.owner = m.locs[:pos], m.ts[:pos], m.owner[:pos]
	for id, p := range m.streams {
		k := sort.Search(len(p), func(i int) bool { return p[i] > pos })
		if k == 0 {
			delete(m.streams, id)
		} else {
			m.streams[id] = p[:k:k]
		}
	}
}

func (m *model) stream(id string) (Stream, bool) {
	p, ok := m.streams[id]
	if !ok {
		return Stream{}, false
	}
	return Stream{ID: id, Positions: p, CreatedAt: m.ts[p[0]-1], UpdatedAt: m.ts[p[len(p)-1]-1]}, true
}

func (m *model) ascend(prefix, after string, limit int) []Stream {
	var keys []string
	for id := range m.streams {
		if strings.HasPrefix(id, prefix) && id > after {
			keys = append(keys, id)
		}
	}
	slices.Sort(keys)
	if limit > 0 && len(keys) > limit {
		keys = keys[:limit]
	}
	out := make([]Stream, len(keys))
	for i, k := range keys {
		out[i], _ = m.stream(k)
	}
	return out
}

func sameStream(a, b Stream) bool {
	return a.ID == b.ID && slices.Equal(a.Positions, b.Positions) && a.CreatedAt == b.CreatedAt && a.UpdatedAt == b.UpdatedAt
}

// compare checks every reader of ix against m.
func compare(t *testing.T, ix *Index, m *model, rng *rand.Rand, pool []string) {
	t.Helper()
	checkInvariants(t, ix)
	if ix.Head() != m.head() || ix.Len() != len(m.streams) {
		t.Fatalf("Head %d Len %d, model %d %d", ix.Head(), ix.Len(), m.head(), len(m.streams))
	}
	for _, id := range pool {
		got, ok := ix.Stream(id)
		want, wok := m.stream(id)
		if ok != wok || !sameStream(got, want) {
			t.Fatalf("Stream(%q) = %+v %v, model %+v %v", id, got, ok, want, wok)
		}
		if ix.Version(id) != uint64(len(want.Positions)) {
			t.Fatalf("Version(%q)", id)
		}
	}
	for pos := uint64(0); pos <= m.head()+1; pos++ {
		got, ok := ix.Locate(pos)
		if ok != (pos >= 1 && pos <= m.head()) || (ok && got != m.locs[pos-1]) {
			t.Fatalf("Locate(%d) = %#x %v", pos, got, ok)
		}
	}
	for range 5 {
		from := rng.Uint64N(m.head() + 2)
		n := rng.IntN(int(m.head()) + 3)
		got := ix.LocateRange(from, n, nil)
		var want []uint64
		if from >= 1 && from <= m.head() {
			want = m.locs[from-1 : min(m.head(), from-1+uint64(n))]
		}
		if !slices.Equal(got, want) {
			t.Fatalf("LocateRange(%d, %d) = %v, want %v", from, n, got, want)
		}
	}
	prefixes := []string{"", "a", "a/", "a/1", "b", "z"}
	for range 5 {
		prefix := prefixes[rng.IntN(len(prefixes))]
		after := ""
		if rng.IntN(2) == 0 {
			after = pool[rng.IntN(len(pool))]
		}
		limit := rng.IntN(6) - 1
		got := ascendAll(ix, prefix, after, limit)
		want := m.ascend(prefix, after, limit)
		if !slices.EqualFunc(got, want, sameStream) {
			t.Fatalf("Ascend(%q, %q, %d) = %v, want %v", prefix, after, limit, ids(got), ids(want))
		}
	}
	// Segment spans: recompute from the model's Locs.
	var segs []segSpan
	for i, loc := range m.locs {
		ord := uint32(loc >> 40)
		if n := len(segs); n > 0 && segs[n-1].Ordinal == ord {
			segs[n-1].Count++
			continue
		}
		segs = append(segs, segSpan{FirstPos: uint64(i + 1), Ordinal: ord, Count: 1})
	}
	if got := segSpans(ix); !slices.Equal(got, segs) {
		t.Fatalf("segments = %v, want %v", got, segs)
	}
}

// locGen produces Locs like a log: offsets grow, segments roll, and now and
// then an offset crosses a 4 GiB boundary.
type locGen struct {
	ord, off uint64
}

func (g *locGen) next(rng *rand.Rand) uint64 {
	switch rng.IntN(40) {
	case 0:
		g.ord++
		g.off = 0
	case 1:
		g.off += 1<<32 - 100
	}
	g.off += 1 + rng.Uint64N(300)
	return g.ord<<40 | g.off
}

func TestModel(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 99))
			var pool []string
			for i := range 40 {
				pool = append(pool, fmt.Sprintf("%c/%d", "aabz"[i%4], i))
			}
			pool = append(pool, "a", "b")
			ix, m := New(), newModel()
			var gen locGen
			var ts int64
			for step := range 600 {
				switch r := rng.IntN(100); {
				case r < 75: // Apply
					n := 1 + rng.IntN(30)
					if rng.IntN(10) == 0 {
						n = 1 + rng.IntN(300)
					}
					batch := make([]Entry, n)
					hot := pool[:2+rng.IntN(len(pool)-2)]
					for i := range batch {
						ts += rng.Int64N(3) - 1 // clocks may step back
						id := hot[rng.IntN(len(hot))]
						if i > 0 && rng.IntN(3) == 0 {
							id = batch[i-1].StreamID // runs of one stream
						}
						batch[i] = Entry{Pos: m.head() + uint64(i) + 1, StreamID: id, Loc: gen.next(rng), Timestamp: ts}
					}
					ix.Apply(batch)
					m.apply(batch)
				case r < 85: // TruncateAfter
					pos := rng.Uint64N(m.head() + 2)
					if rng.IntN(2) == 0 {
						pos = m.head() - min(m.head(), rng.Uint64N(20))
					}
					err := ix.TruncateAfterFunc(pos, func(id string, loc uint64) (int64, error) {
						i := slices.Index(m.locs, loc)
						return m.ts[i], nil
					})
					if err != nil {
						t.Fatal(err)
					}
					m.truncate(pos)
				case r < 92: // checkpoint round trip, then keep going on the copy
					var buf bytes.Buffer
					extra := []byte(fmt.Sprint(step))
					if err := ix.WriteCheckpoint(&buf, extra); err != nil {
						t.Fatal(err)
					}
					ix2, gotExtra, err := ReadCheckpoint(buf.Bytes())
					if err != nil || !bytes.Equal(gotExtra, extra) {
						t.Fatalf("ReadCheckpoint: %v, extra %q", err, gotExtra)
					}
					compare(t, ix, m, rng, pool)
					ix = ix2
				default:
					// A checkpoint writer racing nothing: just writes.
					if err := ix.WriteCheckpoint(&bytes.Buffer{}, nil); err != nil {
						t.Fatal(err)
					}
				}
				compare(t, ix, m, rng, pool)
			}
		})
	}
}
