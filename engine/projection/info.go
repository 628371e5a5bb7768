package projection

import (
	"math"
	"strconv"
	"time"
)

// Info is a projection as the API shows it.
type Info struct {
	Definition
	Status          Status
	Error           string // the reason when Status is StatusError
	LastProcessed   uint64 // every position up to it was processed
	Head            uint64 // the log's head when the info was read
	Lag             uint64 // Head − LastProcessed
	EventsProcessed uint64 // events applied (matching ones)
	Keys            uint64 // entries of the read model
	CreatedAt       time.Time
	UpdatedAt       time.Time
	// State is set by Get for count projections: {"total": N, "byType":
	// {"<type>": n, …}} (JSON).
	State []byte
}

// Get returns one projection, with its state (count) or entry count.
func (m *Manager) Get(id string) (Info, error) {
	p, err := m.get(id)
	if err != nil {
		return Info{}, err
	}
	return p.info(true)
}

// List returns every projection in id order (system ones first).
func (m *Manager) List() ([]Info, error) {
	ps, err := m.all()
	if err != nil {
		return nil, err
	}
	out := make([]Info, 0, len(ps))
	for _, p := range ps {
		in, err := p.info(false)
		if err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	return out, nil
}

// info reads the projection: its position first, so that what is read
// after it (counters, state) holds at least the events up to it, and the
// head last, so that the lag is never negative.
func (p *proj) info(detail bool) (Info, error) {
	pos := p.pos.Load()
	p.mu.Lock()
	in := Info{Definition: p.def, Status: p.statusLocked(), Error: p.failed, LastProcessed: pos, CreatedAt: p.createdAt}
	md := p.model
	p.mu.Unlock()
	in.Keys, in.EventsProcessed = md.counts()
	if detail && p.def.Kind == KindCount {
		res, err := md.scan("", math.MaxInt, math.MaxInt, nil)
		if err != nil {
			return Info{}, err
		}
		in.EventsProcessed = res.applied
		in.State = countState(res)
	}
	in.Head = max(p.m.log.Head(), pos)
	in.Lag = in.Head - pos
	in.UpdatedAt = time.Unix(0, p.updated.Load())
	if in.UpdatedAt.Before(in.CreatedAt) {
		in.UpdatedAt = in.CreatedAt
	}
	return in, nil
}

// countState renders a count projection's state from its entries.
func countState(res scanResult) []byte {
	b := append([]byte(`{"total":`), strconv.FormatUint(res.applied, 10)...)
	b = append(b, `,"byType":{`...)
	for i, it := range res.items {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONKey(b, it.Key)
		n, _ := rawField(it.Value, "count")
		b = append(b, n...)
	}
	return append(b, "}}"...)
}

// appendJSONKey appends an event type (no character needs escaping) as a
// JSON string and a colon.
func appendJSONKey(b []byte, s string) []byte {
	b = strconv.AppendQuote(b, s)
	return append(b, ':')
}
