package projection

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/eventd/eventd/engine"
)

// proj is one projection: its definition, its read model and the runner
// that feeds it.
type proj struct {
	m      *Manager
	def    Definition // fixed for the projection's life
	keyBy  []string
	filter engine.Filter

	// pos is the last position processed. The runner stores it after the
	// events up to it are in the model, so a reader that loads pos and then
	// reads the model sees every event up to pos.
	pos atomic.Uint64
	// updated is when the model or the status last changed (unix ns).
	updated atomic.Int64
	// progress is notified when pos, the status or the model changes
	// (queries waiting for a position wait on it).
	progress engine.Notifier

	// mu guards the fields below. Never held while waiting for the runner.
	mu           sync.Mutex
	gen          uint64 // generation of the model (see meta)
	start        uint64 // a fresh model reads positions after this
	createdAt    time.Time
	paused       bool
	failed       string // non-empty: in error, with this reason
	rebuildUntil uint64 // rebuilding until pos reaches it (after a reset)
	deleted      bool
	model        model
	run          *runner // nil when not running
}

func (m *Manager) newProj(def Definition, gen, start uint64, createdAt time.Time) *proj {
	p := &proj{m: m, def: def, filter: def.filter(), gen: gen, start: start, createdAt: createdAt}
	if def.KeyBy != "" {
		p.keyBy, _ = parseKeyBy(def.KeyBy) // checked when the definition was made
	}
	return p
}

// status says how the projection runs. Caller holds mu.
func (p *proj) statusLocked() Status {
	switch {
	case p.failed != "":
		return StatusError
	case p.paused:
		return StatusPaused
	case p.pos.Load() < p.rebuildUntil:
		return StatusRebuilding
	}
	return StatusActive
}

// checkpoint returns the checkpoint of model md at pos, as a flush writes it.
func (p *proj) checkpoint(md model, pos uint64) meta {
	keys, applied := md.counts()
	p.mu.Lock()
	defer p.mu.Unlock()
	return meta{Generation: p.gen, Position: pos, Events: applied, Keys: keys, Failed: p.failed,
		RebuildUntil: p.rebuildUntil, CreatedAt: p.createdAt.UnixNano(), UpdatedAt: p.updated.Load()}
}

// current returns the model queries read.
func (p *proj) current() (model, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.deleted {
		return nil, ErrNotFound
	}
	return p.model, nil
}

// touch records a change now.
func (p *proj) touch() { p.updated.Store(time.Now().UnixNano()) }

// startLocked starts the runner unless the projection is paused, failed or
// running. Caller holds mu.
func (p *proj) startLocked() {
	if p.run != nil || p.paused || p.failed != "" || p.deleted {
		return
	}
	p.run = newRunner(p, p.model)
	go p.run.loop()
}

// halt stops the runner, if any, and waits until it has persisted the model.
func (p *proj) halt() error {
	p.mu.Lock()
	r := p.run
	p.run = nil
	p.mu.Unlock()
	if r == nil {
		return nil
	}
	return r.halt()
}
