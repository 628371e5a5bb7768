package projection

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"

	"github.com/eventd/eventd/engine/derived"
)

// codec turns a model's values into the bytes stored (JSON objects, also
// what queries return) and back.
type codec[V any] interface {
	encode(dst []byte, v V) ([]byte, error)
	decode(b []byte) (V, error)
	// clone returns a copy of v that shares no memory with it.
	clone(v V) V
}

// entry is one key of a read model held in memory.
type entry[V any] struct {
	key     string
	v       V
	dirty   bool   // changed since the last flush batch was built
	seq     uint64 // the flush batch holding its latest encoding (0: none since loaded)
	ref     bool   // used since the eviction hand last passed
	slot    int    // its index in table.ring; -1 while detached (not yet in entries)
	existed bool   // detached: loaded from the store (false: a new key)
	frozen  bool   // v may be read by the encoding of batch seq (see thaw)
}

// table is a keyed read model: recently used and changed entries in memory,
// over the entries committed to the store. One goroutine (the projection's
// runner) changes it; queries read it concurrently.
//
// The runner is the only writer of the fields below (except committed and
// inflight, which the goroutine committing a batch resets), so it reads
// them without the lock; it takes mu to change them, and readers take mu
// to read them. Entry values are changed in place (reducers change the
// state they are given), so a reader encodes a value while holding mu.
// A flush hands the changed values to another goroutine to encode without
// copying them: the runner copies a value before changing it again while
// that encoding may still run (thaw).
//
// An entry may leave memory only when its latest value is committed: it is
// neither dirty nor part of a batch still being committed. So a key absent
// from entries has its latest value in the store (or does not exist).
type table[V any] struct {
	db       *derived.DB
	prefix   []byte // dataStart(id): the store key of an entry is prefix+key
	codec    codec[V]
	capacity int // entries kept in memory beyond the pinned ones

	mu        sync.Mutex
	entries   map[string]*entry[V]
	ring      []*entry[V] // every entry, swept by the eviction hand (CLOCK)
	hand      int
	dirty     []*entry[V] // entries with dirty set
	inflight  []*entry[V] // entries encoded into the batch being committed
	seq       uint64      // last batch built
	committed uint64      // last batch committed
	// complete: every key of the model is in entries, so a miss is a new
	// key and the store need not be asked. True for a model started empty
	// until its first eviction.
	complete bool
	keys     uint64 // entries of the model (in memory or not)
	applied  uint64 // events applied (eventsProcessed)

	encoded atomic.Uint64 // last batch whose values are encoded
	// avgValue is the mean value size of the last batch (written by the
	// goroutine encoding a batch; one batch at a time).
	avgValue int

	keyBuf []byte // runner's scratch
}

func newTable[V any](db *derived.DB, id string, c codec[V], capacity int, m *meta) *table[V] {
	t := &table[V]{db: db, prefix: dataStart(id), codec: c, capacity: capacity,
		entries: map[string]*entry[V]{}, complete: m == nil || m.Keys == 0}
	if m != nil {
		t.keys, t.applied = m.Keys, m.Events
	}
	return t
}

// storeKey returns prefix+key in the runner's scratch buffer.
func (t *table[V]) storeKey(key string) []byte {
	t.keyBuf = append(append(t.keyBuf[:0], t.prefix...), key...)
	return t.keyBuf
}

// find returns key's entry (runner only, without the lock): the one in
// memory, or a detached one loaded from the store or new (existed false).
// Change its value and call put, holding mu.
func (t *table[V]) find(key string) (*entry[V], error) {
	if e, ok := t.entries[key]; ok {
		return e, nil
	}
	e := &entry[V]{key: strings.Clone(key), slot: -1}
	if t.complete {
		return e, nil
	}
	b, closer, err := t.db.Get(t.storeKey(key))
	if errors.Is(err, pebble.ErrNotFound) {
		return e, nil
	}
	if err != nil {
		return nil, err
	}
	e.v, err = t.codec.decode(b)
	_ = closer.Close()
	if err != nil {
		return nil, err
	}
	e.existed = true
	return e, nil
}

// put records that e changed by one applied event. Caller holds mu, and
// thawed e before changing its value.
func (t *table[V]) put(e *entry[V]) {
	if e.slot < 0 {
		e.slot = len(t.ring)
		t.ring = append(t.ring, e)
		t.entries[e.key] = e
		if !e.existed {
			t.keys++
		}
	}
	if !e.dirty {
		e.dirty = true
		t.dirty = append(t.dirty, e)
	}
	e.ref = true
	t.applied++
}

// changed reports whether anything waits to be flushed (runner only).
func (t *table[V]) changed() bool { return len(t.dirty) > 0 }

// counts returns keys and applied.
func (t *table[V]) counts() (keys, applied uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.keys, t.applied
}

// pending is a flush's copy of the changed entries, encoded into the
// batch by the goroutine that commits it.
type pending[V any] struct {
	t    *table[V]
	seq  uint64
	keys []string
	vals []V // values as of the flush; a shared one (a map) is frozen
}

// snapshot takes the dirty entries as the next batch and marks them in
// flight (runner only, with no batch in flight). Values are not copied: one that
// shares memory (a reducer state) is frozen instead, and the runner copies
// it before changing it again while the batch is being encoded (thaw).
func (t *table[V]) snapshot() encoder {
	seq := t.seq + 1
	p := &pending[V]{t: t, seq: seq, keys: make([]string, len(t.dirty)), vals: make([]V, len(t.dirty))}
	t.mu.Lock()
	for i, e := range t.dirty {
		p.keys[i], p.vals[i] = e.key, e.v
		e.dirty, e.seq, e.frozen = false, seq, true
	}
	t.inflight, t.dirty = t.dirty, t.inflight[:0]
	t.seq = seq
	t.mu.Unlock()
	return p
}

func (p *pending[V]) seqno() uint64 { return p.seq }

// size estimates the bytes of the batch, from the previous one's values,
// so that the batch is allocated once.
func (p *pending[V]) size() int {
	n := 0
	for _, k := range p.keys {
		n += len(p.t.prefix) + len(k) + p.t.avgValue + 16
	}
	return n
}

// encode writes the snapshot into b, then lets the runner change the
// frozen values in place again.
func (p *pending[V]) encode(b *pebble.Batch) error {
	t := p.t
	var key, val []byte
	total := 0
	// In key order: the memtable inserts a sorted batch much faster (its
	// skiplist starts each search where the previous one ended).
	order := make([]int32, len(p.keys))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int { return strings.Compare(p.keys[a], p.keys[b]) })
	for _, i := range order {
		k := p.keys[i]
		var err error
		if val, err = t.codec.encode(val[:0], p.vals[i]); err != nil {
			return err
		}
		key = append(append(key[:0], t.prefix...), k...)
		if err := b.Set(key, val, nil); err != nil {
			return err
		}
		total += len(val)
	}
	if len(p.keys) > 0 {
		t.avgValue = total / len(p.keys)
	}
	t.encoded.Store(p.seq)
	return nil
}

// thaw makes e's value the runner's own before it changes it in place:
// a copy while a flush may still be encoding the value. Caller holds mu.
func (t *table[V]) thaw(e *entry[V]) {
	if e.frozen {
		if e.seq > t.encoded.Load() {
			e.v = t.codec.clone(e.v)
		}
		e.frozen = false
	}
}

// markCommitted records that batch seq is in the store: its entries may
// leave memory. Called by the goroutine that committed it.
func (t *table[V]) markCommitted(seq uint64) {
	t.mu.Lock()
	t.committed = seq
	clear(t.inflight)
	t.inflight = t.inflight[:0]
	t.mu.Unlock()
}

// evict drops unused committed entries until at most capacity remain
// (runner only). Pinned entries (dirty or in flight) stay, so memory may
// exceed capacity by what one flush interval changes.
func (t *table[V]) evict() {
	if len(t.entries) <= t.capacity {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for steps := 2 * len(t.ring); len(t.entries) > t.capacity && steps > 0 && len(t.ring) > 0; steps-- {
		if t.hand >= len(t.ring) {
			t.hand = 0
		}
		e := t.ring[t.hand]
		switch {
		case e.dirty || e.seq > t.committed:
			t.hand++
		case e.ref:
			e.ref = false
			t.hand++
		default:
			last := t.ring[len(t.ring)-1]
			t.ring[t.hand], last.slot = last, t.hand
			t.ring[len(t.ring)-1] = nil
			t.ring = t.ring[:len(t.ring)-1]
			delete(t.entries, e.key)
			t.complete = false
		}
	}
}
