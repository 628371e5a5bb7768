package projection

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/eventd/eventd/engine"
	"github.com/eventd/eventd/engine/derived"
	"github.com/eventd/eventd/engine/reducer"
)

// Log is what projections need of the store; *engine.Store has it.
type Log interface {
	Append(ctx context.Context, streamID string, expected engine.ExpectedVersion, events []engine.Proposed) (engine.AppendResult, error)
	ReadStreamFunc(streamID string, from uint64, dir engine.Direction, limit int, fn func(*engine.Event) error) (next, head uint64, err error)
	ReadAllFunc(from uint64, dir engine.Direction, limit int, f engine.Filter, fn func(*engine.Event) error) (next, head uint64, err error)
	Head() uint64
	HeadMoved() <-chan struct{}
	// Stored reads events as stored: the kinds that never look at
	// eventData (count, system) read through it, so an event its schema
	// chain cannot upcast does not stop them.
	Stored() engine.StoredReader
}

var _ Log = (*engine.Store)(nil)

// Options configure the projections. The zero value gives the defaults.
type Options struct {
	Logger        *slog.Logger
	FlushEvents   int           // persist state + checkpoint every this many events (default 10,000)
	FlushInterval time.Duration // … or this often when something changed (default 100 ms)
	// CacheEntries bounds the entries of one keyed read model kept in
	// memory besides those changed since the last flush (default 131,072).
	CacheEntries int

	noSystem bool // tests and benchmarks: run no system projection
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.FlushEvents <= 0 {
		o.FlushEvents = 10_000
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = 100 * time.Millisecond
	}
	if o.CacheEntries <= 0 {
		o.CacheEntries = 1 << 17
	}
	return o
}

// Manager runs the projections. Its methods are safe for concurrent use.
type Manager struct {
	db       *derived.DB
	log      Log
	reducers *reducer.Registry
	opts     Options
	lg       *slog.Logger

	// admin serializes definition changes: each is journaled, then takes
	// effect, before the next one starts.
	admin sync.Mutex

	mu     sync.RWMutex // guards projs and closed
	projs  map[string]*proj
	closed bool
}

// Open loads the projection definitions from $projections, reconciles the
// read models in db with them (a model of another generation, of a
// projection that no longer exists, or ahead of the log is wiped and
// rebuilt) and starts every projection that is neither paused nor failed.
func Open(db *derived.DB, log Log, reducers *reducer.Registry, opts Options) (*Manager, error) {
	opts = opts.withDefaults()
	if reducers == nil {
		reducers = reducer.NewRegistry()
	}
	m := &Manager{db: db, log: log, reducers: reducers, opts: opts, lg: opts.Logger, projs: map[string]*proj{}}
	j, err := readJournal(log)
	if err != nil {
		return nil, err
	}
	metas, err := m.readMetas()
	if err != nil {
		return nil, err
	}
	if !opts.noSystem {
		for _, d := range systemDefs {
			var gen uint64
			if r := j.system[d.ID]; r != nil {
				gen = r.gen
			}
			m.projs[d.ID] = m.newProj(d, gen, 0, time.Now())
		}
	}
	for id, r := range j.user {
		p := m.newProj(r.def, r.gen, r.start, r.createdAt)
		p.paused = r.paused
		m.projs[id] = p
	}
	if err := m.reconcile(metas); err != nil {
		return nil, err
	}
	for _, p := range m.projs {
		p.mu.Lock()
		p.startLocked()
		p.mu.Unlock()
	}
	return m, nil
}

// readMetas reads every checkpoint; one that cannot be decoded is nil
// (stale).
func (m *Manager) readMetas() (map[string]*meta, error) {
	it, err := m.db.NewIter(&pebble.IterOptions{LowerBound: []byte(metaPrefix), UpperBound: metaEnd()})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	out := map[string]*meta{}
	for ok := it.First(); ok; ok = it.Next() {
		id := string(it.Key()[len(metaPrefix):])
		v, err := it.ValueAndErr()
		if err != nil {
			return nil, err
		}
		if mt, err := decodeMeta(v); err == nil {
			out[id] = &mt
		} else {
			m.lg.Warn("projection: unreadable checkpoint, rebuilding", "projection", id, "err", err)
			out[id] = nil
		}
	}
	return out, it.Error()
}

// reconcile restores each projection's model from its checkpoint when the
// checkpoint is of its generation and not ahead of the log, and wipes every
// other model in one batch.
func (m *Manager) reconcile(metas map[string]*meta) error {
	head := m.log.Head()
	b := m.db.NewBatch()
	defer b.Close()
	for id := range metas {
		if _, ok := m.projs[id]; !ok {
			m.lg.Info("projection: removing the read model of a deleted projection", "projection", id)
			if err := wipeInto(b, id); err != nil {
				return err
			}
		}
	}
	for id, p := range m.projs {
		mt := metas[id]
		if mt != nil && (mt.Generation != p.gen || mt.Position > head || mt.Position < p.start) {
			m.lg.Info("projection: stale read model, rebuilding", "projection", id,
				"generation", mt.Generation, "want", p.gen, "position", mt.Position, "head", head)
			mt = nil
		}
		if mt == nil {
			p.pos.Store(p.start)
			p.updated.Store(p.createdAt.UnixNano())
			p.model = newModel(p, nil)
			if err := freshInto(b, p); err != nil {
				return err
			}
			continue
		}
		p.pos.Store(mt.Position)
		p.updated.Store(mt.UpdatedAt)
		p.failed, p.rebuildUntil = mt.Failed, mt.RebuildUntil
		if p.def.Kind == KindSystem {
			p.createdAt = time.Unix(0, mt.CreatedAt)
		}
		p.model = newModel(p, mt)
	}
	return m.db.Commit(b, pebble.NoSync)
}

// wipeInto adds the removal of id's model and checkpoint to b.
func wipeInto(b *pebble.Batch, id string) error {
	return errors.Join(b.DeleteRange(dataStart(id), dataEnd(id), nil), b.Delete(metaKey(id), nil))
}

// freshInto adds to b the removal of p's model and the checkpoint of an
// empty one of p's generation at p's start, so that the generation and
// createdAt are on record before the first flush.
func freshInto(b *pebble.Batch, p *proj) error {
	p.mu.Lock()
	m := meta{Generation: p.gen, Position: p.start, RebuildUntil: p.rebuildUntil,
		CreatedAt: p.createdAt.UnixNano(), UpdatedAt: p.updated.Load()}
	p.mu.Unlock()
	return errors.Join(b.DeleteRange(dataStart(p.def.ID), dataEnd(p.def.ID), nil), b.Set(metaKey(p.def.ID), encodeMeta(m), nil))
}

// commitNoSync commits b without fsync: a batch lost in a crash leaves
// the older state, which Open tells apart by its generation.
//
// It runs for requests (create, reset, delete): on a full disk it answers
// ErrNoRoom at once rather than waiting (derived.DB.CommitRequest).
func commitNoSync(fill func(b *pebble.Batch) error, db *derived.DB) error {
	b := db.NewBatch()
	if err := fill(b); err != nil {
		_ = b.Close()
		return err
	}
	return db.CommitRequest(b, pebble.NoSync)
}

// Close stops every projection after persisting its model and checkpoint,
// and syncs the store. Calls after Close fail with ErrClosed. A failure of
// the derived-data store (derived.ErrFailed) is not returned again: it was
// logged and shown in the projections' status when it happened, and the
// next start resumes from the checkpoints pebble had synced.
func (m *Manager) Close() error {
	m.admin.Lock()
	defer m.admin.Unlock()
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	ps := make([]*proj, 0, len(m.projs))
	for _, p := range m.projs {
		ps = append(ps, p)
	}
	m.mu.Unlock()
	errs := make([]error, len(ps))
	var wg sync.WaitGroup
	for i, p := range ps {
		wg.Go(func() {
			if err := p.halt(); err != nil {
				errs[i] = fmt.Errorf("projection %s: %w", p.def.ID, err)
			}
		})
	}
	wg.Wait()
	for _, p := range ps {
		p.progress.Notify() // waiters see the manager closed
	}
	// The flushes were not synced; one synced write makes them durable.
	errs = append(errs, m.db.Sync())
	errs = slices.DeleteFunc(errs, func(err error) bool { return errors.Is(err, derived.ErrFailed) })
	return errors.Join(errs...)
}

// get returns the projection id.
func (m *Manager) get(id string) (*proj, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, ErrClosed
	}
	p, ok := m.projs[id]
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, quote(id))
	}
	return p, nil
}

// all returns every projection in id order.
func (m *Manager) all() ([]*proj, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, ErrClosed
	}
	ps := make([]*proj, 0, len(m.projs))
	for _, p := range m.projs {
		ps = append(ps, p)
	}
	slices.SortFunc(ps, func(a, b *proj) int { return strings.Compare(a.def.ID, b.def.ID) })
	return ps, nil
}

func (m *Manager) isClosed() bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.closed
}
