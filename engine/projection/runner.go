package projection

import (
	"errors"
	"strings"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/eventd/eventd/engine"
	"github.com/eventd/eventd/engine/reducer"
)

const (
	// readChunk bounds the matching events of one read, so that the runner
	// looks at its flush thresholds between reads often enough.
	readChunk = 4096
	// retryMin and retryMax bound the wait before reading again after a
	// storage error.
	retryMin = 100 * time.Millisecond
	retryMax = 30 * time.Second
)

// errStopped ends a read when the runner is asked to stop.
var errStopped = errors.New("projection: stopped")

// runner is the goroutine of one running projection. It reads $all from
// the checkpoint, applies matching events to the model, advances the
// position through the events that do not match as well, flushes model
// and checkpoint together, and when caught up waits for the head to move.
// Positions are gap-free and commit-ordered, and the runner is the only
// one to move pos, so no event is skipped or applied twice.
type runner struct {
	p    *proj
	md   model
	log  Log
	opts *Options

	stop     chan struct{}
	done     chan struct{}
	stopping atomic.Bool
	err      error // of the last flush, for halt

	pos       uint64 // last position processed
	since     int    // events applied since the last flush
	moved     bool   // pos moved since the last flush
	applied   int    // events applied by the current read
	lastFlush time.Time
	commit    *commit // the batch being committed, if any
	fn        func(*engine.Event) error
}

// commit is a flush batch being committed in the background.
type commit struct {
	done chan struct{}
	err  error
}

func newRunner(p *proj, md model) *runner {
	r := &runner{p: p, md: md, log: p.m.log, opts: &p.m.opts, stop: make(chan struct{}), done: make(chan struct{}),
		pos: p.pos.Load(), lastFlush: time.Now()}
	r.fn = r.applyOne
	return r
}

// halt stops the loop and waits until the model is persisted.
func (r *runner) halt() error {
	r.stopping.Store(true)
	close(r.stop)
	<-r.done
	return r.err
}

func (r *runner) loop() {
	defer close(r.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	backoff := time.Duration(0)
	for {
		moved := r.log.HeadMoved() // before Head: a move in between is not missed
		if r.stopping.Load() {
			r.err = r.finish()
			return
		}
		if r.pos < r.log.Head() {
			err := r.step()
			var ae *applyError
			var ue *engine.UpcastError
			switch {
			case err == nil:
				backoff = 0
			case errors.Is(err, errStopped):
				continue
			case errors.As(err, &ae):
				r.fail(ae.pos-1, ae.Error())
				return
			case errors.As(err, &ue):
				// The event cannot be read as its type's current version: as
				// permanent as a reducer's refusal, until the schema changes.
				r.fail(ue.Position-1, ue.Error())
				return
			case errors.Is(err, engine.ErrClosed):
				r.err = r.finish()
				return
			default:
				backoff = min(max(2*backoff, retryMin), retryMax)
				r.p.m.lg.Warn("projection: reading the log failed, retrying", "projection", r.p.def.ID, "position", r.pos, "in", backoff, "err", err)
				timer.Reset(backoff)
				select {
				case <-timer.C:
				case <-r.stop:
				}
				continue
			}
			if r.since >= r.opts.FlushEvents || (r.dirty() && time.Since(r.lastFlush) >= r.opts.FlushInterval) {
				if err := r.flush(); err != nil {
					r.failStorage(err)
					return
				}
			}
			continue
		}
		// Caught up: flush what is pending once the interval is over, and
		// wait for the head to move.
		var tick <-chan time.Time
		if r.dirty() {
			wait := r.opts.FlushInterval - time.Since(r.lastFlush)
			if wait <= 0 {
				if err := r.flush(); err != nil {
					r.failStorage(err)
					return
				}
				continue
			}
			timer.Reset(wait)
			tick = timer.C
		}
		select {
		case <-moved:
		case <-r.stop:
		case <-tick:
		}
	}
}

// step reads one chunk of $all after pos and applies it.
func (r *runner) step() error {
	limit := max(1, min(readChunk, r.opts.FlushEvents-r.since))
	r.applied = 0
	read := r.log.ReadAllFunc
	if r.p.def.Kind != KindState {
		read = r.log.Stored().ReadAllFunc // count and system kinds never read eventData
	}
	next, head, err := read(r.pos, engine.Forward, limit, r.p.filter, r.fn)
	if r.applied > 0 {
		r.p.touch()
	}
	if err == nil {
		// Every event up to next (the read stopped early) or head (it
		// reached the head) was examined, matching or not.
		pos := head
		if next != 0 {
			pos = next
		}
		if pos > r.pos {
			r.pos = pos
			r.p.pos.Store(pos)
			r.moved = true
		}
	}
	r.p.progress.Notify()
	return err
}

// applyOne is the read callback: one matching event.
func (r *runner) applyOne(e *engine.Event) error {
	if r.stopping.Load() {
		return errStopped
	}
	ok, err := r.md.apply(e)
	if err != nil {
		if errors.Is(err, reducer.ErrApply) {
			return &applyError{pos: e.Position, stream: strings.Clone(e.StreamID), version: e.Version, err: err}
		}
		return err
	}
	if ok {
		r.since++
		r.applied++
	}
	r.pos = e.Position
	r.moved = true
	r.p.pos.Store(e.Position)
	return nil
}

func (r *runner) dirty() bool { return r.moved || r.since > 0 || r.md.changed() }

// flush writes the changed entries and the checkpoint in one batch,
// committed in the background; the previous batch must be committed first,
// so batches reach the store in order. Entries of a batch stay in memory
// until it is committed (table.evict), so readers never miss a change.
//
// The batch is committed with pebble.NoSync. It is atomic: after a crash
// the store holds a prefix of the committed batches, each one a model and
// the checkpoint that describes it exactly, so the projection resumes
// from an older checkpoint and applies the events after it once more —
// never an event twice, never one skipped.
func (r *runner) flush() error {
	if err := r.waitCommit(); err != nil {
		return err
	}
	r.md.evict()
	snap := r.md.snapshot()
	mb := encodeMeta(r.p.checkpoint(r.md, r.pos))
	c := &commit{done: make(chan struct{})}
	seq, md, db, id := snap.seqno(), r.md, r.p.m.db, r.p.def.ID
	// Encoding and committing run beside the runner, which goes on
	// applying events (thawing the values it changes again).
	go func() {
		defer close(c.done)
		b := db.NewBatchWithSize(snap.size() + len(mb) + 64)
		defer b.Close()
		if c.err = snap.encode(b); c.err != nil {
			return
		}
		if c.err = b.Set(metaKey(id), mb, nil); c.err != nil {
			return
		}
		if c.err = db.Commit(b, pebble.NoSync); c.err == nil {
			md.markCommitted(seq)
		}
	}()
	r.commit = c
	r.since, r.moved, r.lastFlush = 0, false, time.Now()
	return nil
}

func (r *runner) waitCommit() error {
	c := r.commit
	if c == nil {
		return nil
	}
	<-c.done
	r.commit = nil
	return c.err
}

// finish persists what is pending (stopping).
func (r *runner) finish() error {
	if r.dirty() {
		if err := r.flush(); err != nil {
			_ = r.waitCommit()
			return err
		}
	}
	return r.waitCommit()
}

// fail stops the projection in error: an event at pos+1 could not be
// applied. The model and the checkpoint (pos, every event before the
// failing one examined) are persisted with the reason, so the error
// survives a restart until a reset.
func (r *runner) fail(pos uint64, reason string) {
	if pos > r.pos {
		r.pos = pos
		r.p.pos.Store(pos)
		r.moved = true
	}
	r.p.mu.Lock()
	r.p.failed = reason
	r.p.mu.Unlock()
	r.p.touch()
	r.p.m.lg.Error("projection: stopped in error", "projection", r.p.def.ID, "reason", reason)
	if err := r.finish(); err != nil {
		r.p.m.lg.Error("projection: persisting the error status failed", "projection", r.p.def.ID, "err", err)
	}
	r.p.progress.Notify()
}

// failStorage stops the projection in error because its model could not be
// written. The error is not persisted: after a restart the projection
// resumes from its last checkpoint.
func (r *runner) failStorage(err error) {
	_ = r.waitCommit()
	r.p.mu.Lock()
	r.p.failed = "persisting the read model: " + err.Error()
	r.p.mu.Unlock()
	r.p.touch()
	r.err = err
	r.p.m.lg.Error("projection: stopped in error", "projection", r.p.def.ID, "err", err)
	r.p.progress.Notify()
}
