package projection

import (
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/eventd/eventd/engine"
	"github.com/eventd/eventd/engine/reducer"
)

// model is a projection's read model: how an event changes it, over a
// table that keeps it.
type model interface {
	// apply folds one matching event (runner only). applied is false for
	// an event the model skips (a keyBy field missing). An error wrapping
	// reducer.ErrApply stops the projection; others are storage errors.
	apply(e *engine.Event) (applied bool, err error)
	tableOps
}

// tableOps is the untyped face of a table.
type tableOps interface {
	changed() bool
	counts() (keys, applied uint64)
	// snapshot numbers the flush batch itself: the sequence belongs to
	// the table, not to a runner, so it keeps growing across a pause and
	// resume (a runner restarted at 0 would make thaw and evict compare
	// against an older runner's numbers).
	snapshot() encoder
	markCommitted(seq uint64)
	evict()
	lookup(key string) ([]byte, error)
	scan(after string, limit, budget int, match func([]byte) bool) (scanResult, error)
}

// encoder is a flush's snapshot of the changed entries (pending).
type encoder interface {
	seqno() uint64 // the flush batch it is
	size() int
	encode(b *pebble.Batch) error
}

// newModel makes the model of a projection (empty, or restored from its
// checkpoint m).
func newModel(p *proj, m *meta) model {
	db, id, capacity := p.m.db, p.def.ID, p.m.opts.CacheEntries
	switch {
	case p.def.Kind == KindCount || id == ByEventType:
		return &counterModel{newTable[uint64](db, id, counterCodec{}, capacity, m)}
	case id == ByCategory:
		return &categoryModel{newTable[catStats](db, id, catCodec{}, capacity, m)}
	case id == StreamStats:
		return &streamModel{newTable[streamStats](db, id, streamCodec{}, capacity, m)}
	default:
		return &stateModel{table: newTable[reducer.State](db, id, stateCodec{}, capacity, m),
			keyBy: p.keyBy, reducer: p.def.Reducer, reducers: p.m.reducers}
	}
}

// counterModel counts events by type: count projections and $by-event-type.
type counterModel struct{ *table[uint64] }

func (m *counterModel) apply(e *engine.Event) (bool, error) {
	en, err := m.find(e.Type)
	if err != nil {
		return false, err
	}
	m.mu.Lock()
	m.thaw(en)
	en.v++
	m.put(en)
	m.mu.Unlock()
	return true, nil
}

// categoryModel is $by-category: events and streams per category. A stream
// counts when its first event (version 1) is seen.
type categoryModel struct{ *table[catStats] }

func (m *categoryModel) apply(e *engine.Event) (bool, error) {
	en, err := m.find(reducer.Category(e.StreamID))
	if err != nil {
		return false, err
	}
	m.mu.Lock()
	m.thaw(en)
	en.v.events++
	if e.Version == 1 {
		en.v.streams++
	}
	m.put(en)
	m.mu.Unlock()
	return true, nil
}

// streamModel is $stream-stats.
type streamModel struct{ *table[streamStats] }

func (m *streamModel) apply(e *engine.Event) (bool, error) {
	en, err := m.find(e.StreamID)
	if err != nil {
		return false, err
	}
	ts := e.Timestamp.UnixNano()
	m.mu.Lock()
	m.thaw(en)
	s := &en.v
	if s.events == 0 {
		s.first, s.created = e.Position, ts
	}
	s.events++
	s.version, s.last, s.updated = e.Version, e.Position, ts
	m.put(en)
	m.mu.Unlock()
	return true, nil
}

// stateModel folds events into one reducer state per key: the stream id,
// or the keyBy field of eventData.
type stateModel struct {
	*table[reducer.State]
	keyBy    []string // path inside eventData; nil: key by stream id
	reducer  string   // "": the stream's reducer
	reducers *reducer.Registry
}

func (m *stateModel) apply(e *engine.Event) (bool, error) {
	key := e.StreamID
	if m.keyBy != nil {
		raw, ok := rawPath(e.Data, m.keyBy)
		if !ok {
			return false, nil
		}
		if key, ok = scalarText(raw); !ok || key == "" {
			return false, nil
		}
	}
	red := m.reducers.ForStream(e.StreamID)
	if m.reducer != "" {
		var ok bool
		if red, ok = m.reducers.Lookup(m.reducer); !ok {
			return false, fmt.Errorf("%w: reducer %q is not registered", reducer.ErrApply, m.reducer)
		}
	}
	en, err := m.find(key)
	if err != nil {
		return false, err
	}
	if en.slot < 0 {
		// Not yet visible to readers: fold without the lock.
		st, err := red.Apply(en.v, e)
		if err != nil {
			return false, err
		}
		en.v = st
		m.mu.Lock()
		m.put(en)
		m.mu.Unlock()
		return true, nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.thaw(en)
	st, err := red.Apply(en.v, e)
	if err != nil {
		return false, err
	}
	en.v = st
	m.put(en)
	return true, nil
}
