package engine

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/eventd/eventd/segment/vfs"
)

// model is the simplest possible event store: what the engine must agree with.
type model struct {
	all     []modelEvent              // in position order
	streams map[string][]int          // stream → indexes into all
	appends map[string][][]string     // stream → client ids of each append
	byID    map[string]map[string]int // stream → client id → append number
}

type modelEvent struct {
	stream, id, typ, data string
	client                bool
}

func newModel() *model {
	return &model{streams: map[string][]int{}, appends: map[string][][]string{}, byID: map[string]map[string]int{}}
}

// outcome of an append per the API contract.
type outcome struct {
	dupOf int // ≥ 0: duplicate of the stream's append number dupOf
	err   string
}

func (m *model) decide(stream string, exp ExpectedVersion, evs []Proposed) outcome {
	ids := m.byID[stream]
	found, first := 0, -1
	for _, e := range evs {
		if e.ID == "" {
			continue
		}
		if n, ok := ids[e.ID]; ok {
			found++
			if first == -1 {
				first = n
			}
		}
	}
	if found > 0 {
		if found == len(evs) {
			prev := m.appends[stream][first]
			same := len(prev) == len(evs)
			for i := range evs {
				same = same && prev[i] == evs[i].ID
			}
			if same {
				return outcome{dupOf: first}
			}
		}
		return outcome{dupOf: -1, err: "duplicate"}
	}
	if !expectedOK(exp, uint64(len(m.streams[stream]))) {
		return outcome{dupOf: -1, err: "wrong"}
	}
	return outcome{dupOf: -1}
}

func (m *model) apply(stream string, evs []Proposed, res AppendResult) {
	var ids []string
	allClient := true
	for i, e := range evs {
		client := e.ID != ""
		allClient = allClient && client
		m.all = append(m.all, modelEvent{stream, res.Events[i].ID, e.Type, string(e.Data), client})
		m.streams[stream] = append(m.streams[stream], len(m.all)-1)
		ids = append(ids, e.ID)
	}
	n := len(m.appends[stream])
	m.appends[stream] = append(m.appends[stream], ids)
	if m.byID[stream] == nil {
		m.byID[stream] = map[string]int{}
	}
	for _, id := range ids {
		if id != "" {
			m.byID[stream][id] = n
		}
	}
	_ = allClient
}

func TestModel(t *testing.T) {
	for seed := uint64(1); seed <= 4; seed++ {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) { runModel(t, seed, 600) })
	}
}

func runModel(t *testing.T, seed uint64, ops int) {
	rng := rand.New(rand.NewPCG(seed, seed*7919))
	fs := vfs.NewMem()
	o := Options{FS: fs, SegmentSize: 32 << 10, Fsync: FsyncAlways, CheckpointEvery: 97}
	s := openT(t, "/data", o)
	defer func() { s.Close() }()
	m := newModel()
	streams := []string{"a-1", "a-2", "b-1", "b_2", "c"}
	nextID := 0
	var history []struct {
		stream string
		evs    []Proposed
	}
	for op := 0; op < ops; op++ {
		switch k := rng.IntN(100); {
		case k < 70: // append
			stream := streams[rng.IntN(len(streams))]
			var evs []Proposed
			switch r := rng.IntN(10); {
			case r < 2 && len(history) > 0: // retry an earlier append exactly
				h := history[rng.IntN(len(history))]
				stream, evs = h.stream, h.evs
			case r < 3 && len(history) > 0: // reuse some ids
				h := history[rng.IntN(len(history))]
				stream = h.stream
				evs = append(slices.Clone(h.evs[:1]), Proposed{ID: fmt.Sprint("n", nextID), Type: "T", Data: []byte(`{}`)})
				nextID++
			default:
				n := 1 + rng.IntN(4)
				for i := 0; i < n; i++ {
					p := Proposed{Type: fmt.Sprint("T", rng.IntN(3)), Data: []byte(fmt.Sprintf(`{"op":%d,"i":%d}`, op, i))}
					if rng.IntN(2) == 0 {
						p.ID = fmt.Sprint("id", nextID)
						nextID++
					}
					evs = append(evs, p)
				}
			}
			cur := uint64(len(m.streams[stream]))
			exp := []ExpectedVersion{Any, NoStream, StreamExists, ExpectedVersion(cur), ExpectedVersion(cur + 1), 0}[rng.IntN(6)]
			want := m.decide(stream, exp, evs)
			res, err := s.Append(ctx, stream, exp, evs)
			var wev *WrongExpectedVersionError
			switch {
			case want.err == "wrong":
				if !errors.As(err, &wev) {
					t.Fatalf("op %d: want wrong expected version, got %v", op, err)
				}
			case want.err == "duplicate":
				if !errors.Is(err, ErrDuplicateEvent) {
					t.Fatalf("op %d: want ErrDuplicateEvent, got %v %+v", op, err, res)
				}
			case want.dupOf >= 0:
				if err != nil || !res.Duplicate {
					t.Fatalf("op %d: want a duplicate answer, got %v %+v", op, err, res)
				}
				prev := m.streams[stream]
				first := 0
				for a := 0; a < want.dupOf; a++ {
					first += len(m.appends[stream][a])
				}
				if res.FirstVersion != uint64(first+1) || m.all[prev[first]].id != res.Events[0].ID {
					t.Fatalf("op %d: duplicate answered %+v, want the append at version %d", op, res, first+1)
				}
			default:
				if err != nil {
					t.Fatalf("op %d: append: %v", op, err)
				}
				if res.Duplicate || res.FirstPosition != uint64(len(m.all)+1) || res.FirstVersion != cur+1 {
					t.Fatalf("op %d: result %+v, model head %d version %d", op, res, len(m.all), cur)
				}
				m.apply(stream, evs, res)
				history = append(history, struct {
					stream string
					evs    []Proposed
				}{stream, evs})
			}
		case k < 85: // read a stream, forward or backward, paged
			stream := streams[rng.IntN(len(streams))]
			checkStream(t, s, m, stream, rng)
		case k < 95: // read $all
			checkAll(t, s, m, rng)
		default: // restart, sometimes without the checkpoint, sometimes after a power loss
			s.Close()
			switch rng.IntN(3) {
			case 0:
				_ = fs.Remove("/data/index/checkpoint")
			case 1:
				fs = fs.Crash() // fsync=always: everything acknowledged survives
				o.FS = fs
			}
			s = openT(t, "/data", o)
			if s.Head() != uint64(len(m.all)) {
				t.Fatalf("op %d: head %d after restart, model has %d", op, s.Head(), len(m.all))
			}
		}
	}
	checkAll(t, s, m, rng)
	for _, st := range streams {
		checkStream(t, s, m, st, rng)
	}
}

func checkStream(t *testing.T, s *Store, m *model, stream string, rng *rand.Rand) {
	t.Helper()
	want := m.streams[stream]
	limit := 1 + rng.IntN(5)
	dir := Direction(rng.IntN(2))
	var got []Event
	from := uint64(0)
	pooled := rng.IntN(2) == 0
	for i := 0; ; i++ {
		page, err := readStreamVia(s, pooled, stream, from, dir, limit)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page.Events...)
		if page.Next == 0 || i > 1000 {
			break
		}
		from = page.Next
	}
	if len(got) != len(want) {
		t.Fatalf("stream %s (%v): %d events, model %d", stream, dir, len(got), len(want))
	}
	for i, e := range got {
		j := i
		if dir == Backward {
			j = len(want) - 1 - i
		}
		me := m.all[want[j]]
		if e.Version != uint64(j+1) || e.Position != uint64(want[j]+1) || e.ID != me.id || string(e.Data) != me.data || e.Type != me.typ {
			t.Fatalf("stream %s event %d: got %s v%d p%d %s, model %+v at p%d", stream, i, e.ID, e.Version, e.Position, e.Data, me, want[j]+1)
		}
	}
}

func checkAll(t *testing.T, s *Store, m *model, rng *rand.Rand) {
	t.Helper()
	var f Filter
	if rng.IntN(2) == 0 {
		f.EventTypes = []string{"T1"}
	}
	var want []int
	for i, e := range m.all {
		if len(f.EventTypes) == 0 || e.typ == "T1" {
			want = append(want, i)
		}
	}
	limit := 1 + rng.IntN(50)
	var got []Event
	from := uint64(0)
	pooled := rng.IntN(2) == 0
	for i := 0; ; i++ {
		page, err := readAllVia(s, pooled, from, Forward, limit, f)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page.Events...)
		if page.Next == 0 || i > 10000 {
			break
		}
		from = page.Next
	}
	if len(got) != len(want) {
		t.Fatalf("$all %v: %d events, model %d", f, len(got), len(want))
	}
	for i, e := range got {
		me := m.all[want[i]]
		if e.Position != uint64(want[i]+1) || e.StreamID != me.stream || e.ID != me.id {
			t.Fatalf("$all event %d: %s/%s at %d, model %+v at %d", i, e.StreamID, e.ID, e.Position, me, want[i]+1)
		}
	}
}

// cloneEvent copies an event out of the read buffer it aliases.
func cloneEvent(e *Event) Event {
	c := *e
	c.StreamID, c.ID, c.Type = strings.Clone(e.StreamID), strings.Clone(e.ID), strings.Clone(e.Type)
	c.Data, c.Metadata = slices.Clone(e.Data), slices.Clone(e.Metadata)
	return c
}

// readAllVia reads with ReadAll or, pooled, with ReadAllFunc.
func readAllVia(s *Store, pooled bool, from uint64, dir Direction, limit int, f Filter) (Page, error) {
	if !pooled {
		return s.ReadAll(from, dir, limit, f)
	}
	var p Page
	var err error
	p.Next, p.Head, err = s.ReadAllFunc(from, dir, limit, f, func(e *Event) error {
		p.Events = append(p.Events, cloneEvent(e))
		return nil
	})
	return p, err
}

// readStreamVia reads with ReadStream or, pooled, with ReadStreamFunc.
func readStreamVia(s *Store, pooled bool, stream string, from uint64, dir Direction, limit int) (Page, error) {
	if !pooled {
		return s.ReadStream(stream, from, dir, limit)
	}
	var p Page
	var err error
	p.Next, p.Head, err = s.ReadStreamFunc(stream, from, dir, limit, func(e *Event) error {
		p.Events = append(p.Events, cloneEvent(e))
		return nil
	})
	return p, err
}
