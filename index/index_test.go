package index

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"unsafe"
)

// L packs a Loc the way the segment package does.
func L(ord, off uint64) uint64 { return ord<<40 | off }

// ev is one event of a test batch; positions and timestamps are assigned
// by applyEvents (Timestamp = 10 × position).
type ev struct {
	id  string
	loc uint64
}

func applyEvents(ix *Index, batches ...[]ev) {
	for _, b := range batches {
		batch := make([]Entry, len(b))
		for i, e := range b {
			pos := ix.Head() + uint64(i) + 1
			batch[i] = Entry{Pos: pos, StreamID: e.id, Loc: e.loc, Timestamp: int64(pos) * 10}
		}
		ix.Apply(batch)
	}
}

// checkInvariants verifies the index's internal consistency.
func checkInvariants(t testing.TB, ix *Index) {
	t.Helper()
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	head := ix.head.Load()
	owner := make([]string, head+1)
	var posBytes, idBytes int64
	prev := ""
	first := true
	if ix.tree.Len() != len(ix.byID) {
		t.Fatalf("tree holds %d streams, map %d", ix.tree.Len(), len(ix.byID))
	}
	ix.tree.Ascend(func(s *stream) bool {
		if ix.byID[s.id] != s {
			t.Fatalf("stream %q: map and tree disagree", s.id)
		}
		if !first && s.id <= prev {
			t.Fatalf("tree order: %q after %q", s.id, prev)
		}
		first, prev = false, s.id
		p := s.positions
		if len(p) == 0 {
			t.Fatalf("stream %q has no positions", s.id)
		}
		for i, v := range p {
			if v == 0 || v > head || (i > 0 && v <= p[i-1]) {
				t.Fatalf("stream %q: bad positions %v (head %d)", s.id, p, head)
			}
			if owner[v] != "" {
				t.Fatalf("position %d in %q and %q", v, owner[v], s.id)
			}
			owner[v] = s.id
		}
		posBytes += int64(cap(p)) * 8
		idBytes += int64(len(s.id))
		return true
	})
	for v := uint64(1); v <= head; v++ {
		if owner[v] == "" {
			t.Fatalf("position %d in no stream", v)
		}
	}
	if posBytes != ix.posBytes || idBytes != ix.idBytes {
		t.Fatalf("accounting: posBytes %d (want %d), idBytes %d (want %d)", ix.posBytes, posBytes, ix.idBytes, idBytes)
	}
	r := ix.locs.runs
	if (head == 0) != (len(r) == 0) {
		t.Fatalf("head %d with %d runs", head, len(r))
	}
	for i := range r {
		if (i == 0 && r[i].first != 1) || (i > 0 && (r[i].first <= r[i-1].first || r[i].hi == r[i-1].hi)) || r[i].first > head || r[i].hi&loMask != 0 {
			t.Fatalf("bad runs %v (head %d)", r, head)
		}
	}
	if want := int((head + chunkMask) >> chunkShift); len(ix.locs.chunks) != want {
		t.Fatalf("%d chunks for head %d, want %d", len(ix.locs.chunks), head, want)
	}
}

// segSpan is a run of consecutive positions whose Locs lie in one segment
// (ordinal = Loc >> 40).
type segSpan struct {
	FirstPos uint64
	Ordinal  uint32
	Count    int // positions FirstPos .. FirstPos+Count-1
}

// segSpans returns the index's positions 1..Head() grouped by segment, in
// position order, read from the Loc table's runs.
func segSpans(ix *Index) []segSpan {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	head := ix.head.Load()
	runs := ix.locs.runs
	var out []segSpan
	for i, r := range runs {
		end := head + 1
		if i+1 < len(runs) {
			end = runs[i+1].first
		}
		ord := uint32(r.hi >> 40)
		if n := len(out); n > 0 && out[n-1].Ordinal == ord {
			out[n-1].Count += int(end - r.first)
			continue
		}
		out = append(out, segSpan{FirstPos: r.first, Ordinal: ord, Count: int(end - r.first)})
	}
	return out
}

func ids(ss []Stream) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.ID
	}
	return out
}

func ascendAll(ix *Index, prefix, after string, limit int) []Stream {
	var out []Stream
	ix.Ascend(prefix, after, limit, func(s Stream) bool { out = append(out, s); return true })
	return out
}

func TestApplyAndRead(t *testing.T) {
	cases := []struct {
		name     string
		batches  [][]ev
		streams  map[string][]uint64
		segments []segSpan
	}{
		{
			name:    "empty",
			streams: map[string][]uint64{},
		},
		{
			name:     "one event",
			batches:  [][]ev{{{"a", L(0, 0)}}},
			streams:  map[string][]uint64{"a": {1}},
			segments: []segSpan{{FirstPos: 1, Ordinal: 0, Count: 1}},
		},
		{
			name: "interleaved streams in one batch",
			batches: [][]ev{{
				{"b", L(0, 10)}, {"a", L(0, 20)}, {"b", L(0, 30)}, {"c", L(0, 40)}, {"a", L(0, 50)}, {"a", L(0, 60)},
			}},
			streams:  map[string][]uint64{"a": {2, 5, 6}, "b": {1, 3}, "c": {4}},
			segments: []segSpan{{FirstPos: 1, Ordinal: 0, Count: 6}},
		},
		{
			name: "many streams in one batch (map grouping)",
			batches: [][]ev{{
				{"s1", L(0, 1)}, {"s2", L(0, 2)}, {"s3", L(0, 3)}, {"s4", L(0, 4)}, {"s5", L(0, 5)},
				{"s6", L(0, 6)}, {"s7", L(0, 7)}, {"s8", L(0, 8)}, {"s9", L(0, 9)}, {"s10", L(0, 10)},
				{"s1", L(0, 11)}, {"s10", L(0, 12)}, {"s9", L(0, 13)}, {"s9", L(0, 14)}, {"s2", L(0, 15)},
			}},
			streams: map[string][]uint64{
				"s1": {1, 11}, "s2": {2, 15}, "s3": {3}, "s4": {4}, "s5": {5}, "s6": {6},
				"s7": {7}, "s8": {8}, "s9": {9, 13, 14}, "s10": {10, 12},
			},
			segments: []segSpan{{FirstPos: 1, Ordinal: 0, Count: 15}},
		},
		{
			name: "appends across batches",
			batches: [][]ev{
				{{"a", L(0, 0)}},
				{{"a", L(0, 100)}, {"b", L(0, 200)}},
				{{"a", L(0, 300)}},
				{{"b", L(0, 400)}, {"b", L(0, 500)}, {"a", L(0, 600)}},
			},
			streams:  map[string][]uint64{"a": {1, 2, 4, 7}, "b": {3, 5, 6}},
			segments: []segSpan{{FirstPos: 1, Ordinal: 0, Count: 7}},
		},
		{
			name: "segment boundaries",
			batches: [][]ev{
				{{"a", L(0, 0)}, {"a", L(0, 4096)}},
				{{"b", L(1, 0)}},
				{{"a", L(1, 200)}, {"b", L(2, 0)}, {"a", L(2, 77)}},
				{{"c", L(5, 1<<39)}},
			},
			streams: map[string][]uint64{"a": {1, 2, 4, 6}, "b": {3, 5}, "c": {7}},
			segments: []segSpan{
				{FirstPos: 1, Ordinal: 0, Count: 2}, {FirstPos: 3, Ordinal: 1, Count: 2},
				{FirstPos: 5, Ordinal: 2, Count: 2}, {FirstPos: 7, Ordinal: 5, Count: 1},
			},
		},
		{
			name: "segment larger than 4 GiB",
			batches: [][]ev{
				{{"a", L(3, 1<<32-8)}, {"a", L(3, 1<<32)}, {"a", L(3, 1<<33+5)}, {"a", L(4, 1)}},
			},
			streams:  map[string][]uint64{"a": {1, 2, 3, 4}},
			segments: []segSpan{{FirstPos: 1, Ordinal: 3, Count: 3}, {FirstPos: 4, Ordinal: 4, Count: 1}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ix := New()
			applyEvents(ix, tc.batches...)
			checkInvariants(t, ix)
			var locs []uint64
			for _, b := range tc.batches {
				for _, e := range b {
					locs = append(locs, e.loc)
				}
			}
			if ix.Head() != uint64(len(locs)) {
				t.Fatalf("Head = %d, want %d", ix.Head(), len(locs))
			}
			if ix.Len() != len(tc.streams) {
				t.Fatalf("Len = %d, want %d", ix.Len(), len(tc.streams))
			}
			for id, want := range tc.streams {
				s, ok := ix.Stream(id)
				if !ok || s.ID != id || !slices.Equal(s.Positions, want) {
					t.Fatalf("Stream(%q) = %+v, %v; want positions %v", id, s, ok, want)
				}
				if s.CreatedAt != int64(want[0])*10 || s.UpdatedAt != int64(want[len(want)-1])*10 {
					t.Fatalf("Stream(%q) times %d, %d", id, s.CreatedAt, s.UpdatedAt)
				}
				if v := ix.Version(id); v != uint64(len(want)) {
					t.Fatalf("Version(%q) = %d, want %d", id, v, len(want))
				}
				if cap(s.Positions) != len(s.Positions) {
					t.Fatalf("Stream(%q).Positions capacity not clipped", id)
				}
			}
			if _, ok := ix.Stream("nope"); ok || ix.Version("nope") != 0 {
				t.Fatal("missing stream found")
			}
			for i, want := range locs {
				if got, ok := ix.Locate(uint64(i + 1)); !ok || got != want {
					t.Fatalf("Locate(%d) = %#x, %v; want %#x", i+1, got, ok, want)
				}
			}
			for _, p := range []uint64{0, uint64(len(locs)) + 1, 1 << 50} {
				if _, ok := ix.Locate(p); ok {
					t.Fatalf("Locate(%d) found", p)
				}
			}
			for from := 0; from <= len(locs)+1; from++ {
				for n := 0; n <= len(locs)+2; n++ {
					got := ix.LocateRange(uint64(from), n, []uint64{42})
					want := []uint64{42}
					if from >= 1 && from <= len(locs) {
						want = append(want, locs[from-1:min(len(locs), from-1+n)]...)
					}
					if !slices.Equal(got, want) {
						t.Fatalf("LocateRange(%d, %d) = %v, want %v", from, n, got, want)
					}
				}
			}
			if got := segSpans(ix); !slices.Equal(got, tc.segments) {
				t.Fatalf("segments = %+v, want %+v", got, tc.segments)
			}
		})
	}
}

func TestApplyPanicsOnGap(t *testing.T) {
	ix := New()
	applyEvents(ix, []ev{{"a", 1}})
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	ix.Apply([]Entry{{Pos: 3, StreamID: "a"}})
}

func TestApplyCopiesStreamID(t *testing.T) {
	// The engine may hand over ids that alias a reused read buffer.
	ix := New()
	buf := []byte("stream-1")
	ix.Apply([]Entry{{Pos: 1, StreamID: unsafe.String(&buf[0], len(buf)), Loc: 1}})
	copy(buf, "garbage!")
	if _, ok := ix.Stream("stream-1"); !ok {
		t.Fatal("stream id aliases the caller's buffer")
	}
}

func TestLocTableChunks(t *testing.T) {
	// Several chunks and runs; runs that start mid-chunk and chunks that
	// span runs.
	const n = 3*chunkSize + 123
	ix := New()
	want := make([]uint64, 0, n)
	batch := make([]Entry, 0, 1000)
	for pos := uint64(1); pos <= n; pos++ {
		loc := L(pos/40000, pos*8)
		want = append(want, loc)
		batch = append(batch, Entry{Pos: pos, StreamID: fmt.Sprintf("s%d", pos%97), Loc: loc, Timestamp: int64(pos)})
		if len(batch) == cap(batch) || pos == n {
			ix.Apply(batch)
			batch = batch[:0]
		}
	}
	checkInvariants(t, ix)
	for i, w := range want {
		if got, _ := ix.Locate(uint64(i + 1)); got != w {
			t.Fatalf("Locate(%d) = %#x, want %#x", i+1, got, w)
		}
	}
	for _, from := range []uint64{1, chunkSize - 1, chunkSize, chunkSize + 1, 39999, 40000, 40001, 2*chunkSize + 5, n - 3} {
		for _, k := range []int{1, 2, 3, chunkSize + 2, n} {
			got := ix.LocateRange(from, k, nil)
			w := want[from-1 : min(uint64(n), from-1+uint64(k))]
			if !slices.Equal(got, w) {
				t.Fatalf("LocateRange(%d, %d): %d locs, mismatch", from, k, len(got))
			}
		}
	}
	segs := segSpans(ix)
	total := 0
	for i, s := range segs {
		if s.Ordinal != uint32(i) {
			t.Fatalf("segment %d has ordinal %d", i, s.Ordinal)
		}
		total += s.Count
	}
	if total != n {
		t.Fatalf("segments count %d positions", total)
	}
}

func TestAscend(t *testing.T) {
	ix := New()
	names := []string{"a", "a/1", "a/2", "a/20", "a/3", "ab", "b", "b/1", "c\xff", "c\xff\xff"}
	var b []ev
	for i, n := range names {
		b = append(b, ev{n, uint64(i)})
	}
	applyEvents(ix, b)
	cases := []struct {
		prefix, after string
		limit         int
		want          []string
	}{
		{"", "", 0, names},
		{"", "", 3, names[:3]},
		{"", "a/2", 0, names[3:]},
		{"", "a/2", 2, []string{"a/20", "a/3"}},
		{"a", "", 0, []string{"a", "a/1", "a/2", "a/20", "a/3", "ab"}},
		{"a/", "", 0, []string{"a/1", "a/2", "a/20", "a/3"}},
		{"a/", "a/1", 0, []string{"a/2", "a/20", "a/3"}},
		{"a/", "a/2", 1, []string{"a/20"}},
		{"a/", "a/3", 0, nil},
		{"a/", "a", 0, []string{"a/1", "a/2", "a/20", "a/3"}}, // after < prefix
		{"a/", "zzz", 0, nil},                                 // after > every id
		{"a/", "a/", 2, []string{"a/1", "a/2"}},               // after == prefix
		{"b", "", -1, []string{"b", "b/1"}},                   // negative limit: none
		{"c\xff", "", 0, []string{"c\xff", "c\xff\xff"}},      // 0xff bytes
		{"c\xff", "c\xff", 0, []string{"c\xff\xff"}},          //
		{"zz", "", 0, nil},                                    // no match
		{"a/2", "", 0, []string{"a/2", "a/20"}},               //
		{"", "", 100, names},                                  // limit above count
		{"", "\xff", 0, nil},                                  //
		{"", "", 1, []string{"a"}},
		{"b/", "", 0, []string{"b/1"}},                                   //
		{"a/1", "a/1", 0, nil},                                           //
		{"a", "ab", 0, nil},                                              //
		{"", "c\xff\xff", 0, nil},                                        //
		{"", "c\xff", 0, []string{"c\xff\xff"}},                          //
		{"a/2", "a/1", 0, []string{"a/2", "a/20"}},                       //
		{"a/2", "a/2", 0, []string{"a/20"}},                              //
		{"a/2", "a/20", 0, nil},                                          //
		{"a/", "a/20", 0, []string{"a/3"}},                               //
		{"a", "a/3", 0, []string{"ab"}},                                  //
		{"a", "a/3", 1, []string{"ab"}},                                  //
		{"", "b/1", 1, []string{"c\xff"}},                                //
		{"", "b/1", 0, []string{"c\xff", "c\xff\xff"}},                   //
		{"", "", 0, names},                                               //
		{"a/", "", 3, []string{"a/1", "a/2", "a/20"}},                    //
		{"a/", "", 4, []string{"a/1", "a/2", "a/20", "a/3"}},             //
		{"a/", "", 5, []string{"a/1", "a/2", "a/20", "a/3"}},             //
		{"a/", "a/1", 2, []string{"a/2", "a/20"}},                        //
		{"", "a", 1, []string{"a/1"}},                                    //
		{"", "", 11, names},                                              //
		{"", "", 10, names[:10]},                                         //
		{"x", "a", 0, nil},                                               //
		{"", "a/3", 0, []string{"ab", "b", "b/1", "c\xff", "c\xff\xff"}}, //
	}
	for _, tc := range cases {
		got := ids(ascendAll(ix, tc.prefix, tc.after, tc.limit))
		want := tc.want
		if tc.limit < 0 {
			// limit <= 0 means no limit
			want = []string{"b", "b/1"}
		}
		if !slices.Equal(got, want) {
			t.Errorf("Ascend(%q, %q, %d) = %q, want %q", tc.prefix, tc.after, tc.limit, got, want)
		}
	}

	// Early stop.
	n := 0
	ix.Ascend("", "", 0, func(Stream) bool { n++; return n < 4 })
	if n != 4 {
		t.Fatalf("fn called %d times after returning false", n)
	}
}

func TestAscendPaging(t *testing.T) {
	ix := New()
	var b []ev
	var all []string
	for i := range 3*ascendPage + 17 {
		id := fmt.Sprintf("p/%05d", i)
		all = append(all, id)
		b = append(b, ev{id, uint64(i)})
	}
	b = append(b, ev{"q", 0}, ev{"o", 0})
	applyEvents(ix, b)
	if got := ids(ascendAll(ix, "p/", "", 0)); !slices.Equal(got, all) {
		t.Fatalf("got %d streams, want %d", len(got), len(all))
	}
	for _, limit := range []int{1, ascendPage - 1, ascendPage, ascendPage + 1, 2*ascendPage + 3, len(all), len(all) + 5} {
		got := ids(ascendAll(ix, "p/", all[5], limit))
		want := all[6:min(len(all), 6+limit)]
		if !slices.Equal(got, want) {
			t.Fatalf("limit %d: got %d streams, want %d", limit, len(got), len(want))
		}
	}
	// fn may call back into the index (no lock is held).
	ix.Ascend("p/", "", 0, func(s Stream) bool {
		_ = ix.Version(s.ID)
		return true
	})
}

func TestTruncateAfter(t *testing.T) {
	base := [][]ev{
		{{"a", L(0, 0)}, {"b", L(0, 10)}},
		{{"a", L(0, 20)}, {"c", L(1, 0)}, {"b", L(1, 10)}},
		{{"a", L(1, 20)}, {"d", L(2, 0)}, {"d", L(2, 10)}},
	}
	// positions: a 1,3,6  b 2,5  c 4  d 7,8
	cases := []struct {
		name    string
		pos     uint64
		streams map[string][]uint64
		segs    []segSpan
	}{
		{"nothing (at head)", 8, map[string][]uint64{"a": {1, 3, 6}, "b": {2, 5}, "c": {4}, "d": {7, 8}},
			[]segSpan{{1, 0, 3}, {4, 1, 3}, {7, 2, 2}}},
		{"nothing (past head)", 100, map[string][]uint64{"a": {1, 3, 6}, "b": {2, 5}, "c": {4}, "d": {7, 8}},
			[]segSpan{{1, 0, 3}, {4, 1, 3}, {7, 2, 2}}},
		{"one event", 7, map[string][]uint64{"a": {1, 3, 6}, "b": {2, 5}, "c": {4}, "d": {7}},
			[]segSpan{{1, 0, 3}, {4, 1, 3}, {7, 2, 1}}},
		{"segment boundary", 6, map[string][]uint64{"a": {1, 3, 6}, "b": {2, 5}, "c": {4}},
			[]segSpan{{1, 0, 3}, {4, 1, 3}}},
		{"mid segment", 4, map[string][]uint64{"a": {1, 3}, "b": {2}, "c": {4}},
			[]segSpan{{1, 0, 3}, {4, 1, 1}}},
		{"start of segment", 3, map[string][]uint64{"a": {1, 3}, "b": {2}},
			[]segSpan{{1, 0, 3}}},
		{"to one", 1, map[string][]uint64{"a": {1}}, []segSpan{{1, 0, 1}}},
		{"everything", 0, map[string][]uint64{}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ix := New()
			applyEvents(ix, base...)
			held, _ := ix.Stream("a") // a reader's copy must not change
			heldCopy := slices.Clone(held.Positions)
			ix.TruncateAfter(tc.pos)
			checkInvariants(t, ix)
			wantHead := min(tc.pos, 8)
			if ix.Head() != wantHead || ix.Len() != len(tc.streams) {
				t.Fatalf("Head %d Len %d, want %d %d", ix.Head(), ix.Len(), wantHead, len(tc.streams))
			}
			for id, want := range tc.streams {
				if s, _ := ix.Stream(id); !slices.Equal(s.Positions, want) || s.CreatedAt != int64(want[0])*10 {
					t.Fatalf("Stream(%q) = %+v, want %v", id, s, want)
				}
			}
			if got := segSpans(ix); !slices.Equal(got, tc.segs) {
				t.Fatalf("segments = %v, want %v", got, tc.segs)
			}
			if _, ok := ix.Locate(wantHead + 1); ok {
				t.Fatal("Locate past head")
			}
			// Append again: new positions take the place of the dropped ones.
			applyEvents(ix, []ev{{"a", L(7, 1)}, {"e", L(7, 2)}})
			checkInvariants(t, ix)
			if loc, _ := ix.Locate(wantHead + 2); loc != L(7, 2) {
				t.Fatalf("Locate after re-append = %#x", loc)
			}
			if !slices.Equal(held.Positions, heldCopy) {
				t.Fatalf("a reader's positions changed: %v, was %v", held.Positions, heldCopy)
			}
			a, _ := ix.Stream("a")
			if a.Positions[len(a.Positions)-1] != wantHead+1 || a.UpdatedAt != int64(wantHead+1)*10 {
				t.Fatalf("a after re-append: %+v", a)
			}
		})
	}
}

func TestTruncateAfterFunc(t *testing.T) {
	ix := New()
	applyEvents(ix, []ev{{"a", 100}, {"b", 200}, {"a", 300}, {"b", 400}, {"c", 500}})
	var calls []string
	err := ix.TruncateAfterFunc(2, func(id string, loc uint64) (int64, error) {
		calls = append(calls, fmt.Sprintf("%s@%d", id, loc))
		if id == "b" {
			return 0, fmt.Errorf("boom")
		}
		return int64(loc), nil
	})
	if err == nil || !strings.Contains(err.Error(), "boom") || ix.Head() != 5 {
		t.Fatalf("err %v, head %d: want the callback's error and nothing changed", err, ix.Head())
	}
	calls = nil
	err = ix.TruncateAfterFunc(2, func(id string, loc uint64) (int64, error) {
		calls = append(calls, fmt.Sprintf("%s@%d", id, loc))
		return int64(loc), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checkInvariants(t, ix)
	slices.Sort(calls)
	if !slices.Equal(calls, []string{"a@100", "b@200"}) {
		t.Fatalf("calls %v", calls)
	}
	if a, _ := ix.Stream("a"); a.UpdatedAt != 100 {
		t.Fatalf("a.UpdatedAt = %d", a.UpdatedAt)
	}
	if _, ok := ix.Stream("c"); ok {
		t.Fatal("c survived")
	}
}

func TestMemoryBytes(t *testing.T) {
	ix := New()
	if m := ix.MemoryBytes(); m < 0 || m > 1024 {
		t.Fatalf("empty index: %d bytes", m)
	}
	applyEvents(ix, []ev{{"a", 1}, {"b", 2}})
	if ix.MemoryBytes() < chunkSize*4 {
		t.Fatalf("MemoryBytes = %d, less than one chunk", ix.MemoryBytes())
	}
}
