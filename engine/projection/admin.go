package projection

import (
	"context"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// Create defines a projection and starts it. Definition.ID empty: the
// manager makes one. The same id again with the same definition (see
// Definition) returns the existing projection with created false; with
// another definition it fails with ErrExists. Input errors wrap ErrInvalid.
func (m *Manager) Create(ctx context.Context, d Definition) (info Info, created bool, err error) {
	if err := d.normalize(m.reducers); err != nil {
		return Info{}, false, err
	}
	m.admin.Lock()
	defer m.admin.Unlock()
	if m.isClosed() {
		return Info{}, false, ErrClosed
	}
	if d.ID == "" {
		d.ID = newID()
	} else if p, err := m.get(d.ID); err == nil {
		if !same(p.def, d) {
			return Info{}, false, fmt.Errorf("%w: %s", ErrExists, quote(d.ID))
		}
		info, err := p.info(false)
		return info, false, err
	}
	var start uint64
	if d.StartFrom == StartNow {
		start = m.log.Head()
	}
	pos, ts, err := m.record(ctx, evCreated, journalOf(d, start))
	if err != nil {
		return Info{}, false, err
	}
	p := m.newProj(d, pos, start, ts)
	p.pos.Store(p.start)
	p.updated.Store(ts.UnixNano())
	p.model = newModel(p, nil)
	// Clears a model an earlier projection of this id may have left (its
	// removal lost in a crash), and records the generation.
	// A storage failure now leaves the projection defined (it is
	// journaled) and in error: a reset retries.
	ferr := commitNoSync(func(b *pebble.Batch) error { return freshInto(b, p) }, m.db)
	if ferr != nil {
		p.failed = "initializing the read model: " + ferr.Error()
	}
	m.mu.Lock()
	m.projs[d.ID] = p
	m.mu.Unlock()
	if ferr != nil {
		return Info{}, false, ferr
	}
	p.mu.Lock()
	p.startLocked()
	p.mu.Unlock()
	info, err = p.info(false)
	return info, true, err
}

// Pause stops a projection after persisting its model; it keeps its
// position. Pausing a paused projection changes nothing. System
// projections cannot be paused (ErrSystem), failed ones neither (ErrFailed).
func (m *Manager) Pause(ctx context.Context, id string) (Info, error) {
	return m.setPaused(ctx, id, true)
}

// Resume restarts a paused projection where it stopped.
func (m *Manager) Resume(ctx context.Context, id string) (Info, error) {
	return m.setPaused(ctx, id, false)
}

func (m *Manager) setPaused(ctx context.Context, id string, pause bool) (Info, error) {
	m.admin.Lock()
	defer m.admin.Unlock()
	p, err := m.get(id)
	if err != nil {
		return Info{}, err
	}
	if p.def.Kind == KindSystem {
		return Info{}, fmt.Errorf("%w: %s always runs", ErrSystem, id)
	}
	p.mu.Lock()
	failed, paused := p.failed, p.paused
	p.mu.Unlock()
	if failed != "" {
		return Info{}, fmt.Errorf("%w (%s): reset it to rebuild it", ErrFailed, failed)
	}
	if paused != pause {
		typ := evResumed
		if pause {
			typ = evPaused
		}
		if _, _, err := m.record(ctx, typ, journalData{ID: id}); err != nil {
			return Info{}, err
		}
		if pause {
			p.mu.Lock()
			p.paused = true
			p.mu.Unlock()
			if err := p.halt(); err != nil {
				return Info{}, err
			}
		} else {
			p.mu.Lock()
			p.paused = false
			p.startLocked()
			p.mu.Unlock()
		}
		p.touch()
		p.progress.Notify()
	}
	return p.info(false)
}

// Reset wipes a projection's read model and rebuilds it from its start
// (the beginning, or where a startFrom-now projection was created),
// clearing an error. Its status is rebuilding until it reaches the head of
// the moment. A paused projection stays paused (and empty). System
// projections can be reset.
func (m *Manager) Reset(ctx context.Context, id string) (Info, error) {
	m.admin.Lock()
	defer m.admin.Unlock()
	p, err := m.get(id)
	if err != nil {
		return Info{}, err
	}
	pos, _, err := m.record(ctx, evReset, journalData{ID: id})
	if err != nil {
		return Info{}, err
	}
	// A flush failure of the old model no longer matters: it is wiped.
	_ = p.halt()
	p.mu.Lock()
	p.gen, p.failed, p.rebuildUntil = pos, "", m.log.Head()
	p.pos.Store(p.start)
	p.model = newModel(p, nil)
	p.mu.Unlock()
	p.touch()
	if err := commitNoSync(func(b *pebble.Batch) error { return freshInto(b, p) }, m.db); err != nil {
		p.mu.Lock()
		p.failed = "resetting the read model: " + err.Error()
		p.mu.Unlock()
		return Info{}, err
	}
	p.mu.Lock()
	p.startLocked()
	p.mu.Unlock()
	p.progress.Notify()
	return p.info(false)
}

// Delete removes a projection and its read model. System projections
// cannot be deleted (ErrSystem).
func (m *Manager) Delete(ctx context.Context, id string) error {
	m.admin.Lock()
	defer m.admin.Unlock()
	p, err := m.get(id)
	if err != nil {
		return err
	}
	if p.def.Kind == KindSystem {
		return fmt.Errorf("%w: %s cannot be deleted", ErrSystem, id)
	}
	if _, _, err := m.record(ctx, evDeleted, journalData{ID: id}); err != nil {
		return err
	}
	_ = p.halt() // its model is wiped below
	m.mu.Lock()
	delete(m.projs, id)
	m.mu.Unlock()
	p.mu.Lock()
	p.deleted = true
	p.mu.Unlock()
	p.progress.Notify()
	return commitNoSync(func(b *pebble.Batch) error { return wipeInto(b, id) }, m.db)
}
