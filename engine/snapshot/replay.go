package snapshot

import (
	"context"
	"maps"
	"strings"
	"time"

	"github.com/eventd/eventd/engine"
	"github.com/eventd/eventd/engine/jsonv"
	"github.com/eventd/eventd/engine/reducer"
)

// Result is the outcome of Replay.
type Result struct {
	State           reducer.State
	SnapshotVersion uint64 // the snapshot started from; 0: none
	Applied         uint64 // events folded after it
	// Types maps every event type folded into State (the snapshot's
	// included) to its chain revision: what a snapshot of State records.
	Types map[string]string
}

// Replay returns the state of stream at version to, folded with red: from
// the newest usable snapshot at or below to (when useSnapshot), then the
// events after it through engine/reducer.Replay, the one fold; each (if
// not nil) sees every folded event. A snapshot is usable when it was made
// by red (name and revision) through the chain revisions the event types
// it folded still have: a stale snapshot is never used, only skipped. A
// replay slower than Options.After asks for a snapshot at to, taken in the
// background.
func (s *Store) Replay(ctx context.Context, stream string, to uint64, red reducer.Reducer, useSnapshot bool, each func(*engine.Event) error) (Result, error) {
	return s.replay(ctx, stream, to, red, useSnapshot, true, each)
}

// replay is Replay; suggest says whether a slow one asks for a snapshot
// (not when it is taking one).
func (s *Store) replay(ctx context.Context, stream string, to uint64, red reducer.Reducer, useSnapshot, suggest bool, each func(*engine.Event) error) (Result, error) {
	t0 := time.Now()
	res := Result{Types: map[string]string{}}
	var state reducer.State
	if useSnapshot {
		m, st, ok, err := s.usable(stream, to, red)
		if err != nil {
			return res, err
		}
		if ok {
			state, res.SnapshotVersion = st, m.Version
			maps.Copy(res.Types, m.Types)
		}
	}
	fold := func(e *engine.Event) error {
		if _, ok := res.Types[e.Type]; !ok {
			res.Types[strings.Clone(e.Type)] = s.revs.Revision(e.Type) // e aliases a pooled buffer
		}
		if each != nil {
			return each(e)
		}
		return nil
	}
	r, err := reducer.Replay(s.log, stream, state, res.SnapshotVersion, to, red, fold)
	res.State, res.Applied = r.State, r.Applied
	if err != nil {
		return res, err
	}
	if suggest && s.auto != nil && s.opts.After > 0 && r.Applied > 0 && time.Since(t0) > s.opts.After && ctx.Err() == nil {
		s.auto.suggest(stream, r.Version)
	}
	return res, nil
}

// usable finds the newest snapshot of stream at or below to that red can
// start from, with its state.
func (s *Store) usable(stream string, to uint64, red reducer.Reducer) (m Snapshot, state reducer.State, ok bool, err error) {
	err = s.scan(stream, to, func(_ []byte, sm Snapshot, st func() ([]byte, error)) bool {
		if !s.fits(&sm, red) {
			return true
		}
		if pos, id, ok, perr := s.eventAt(stream, sm.Version); perr != nil || !ok || pos != sm.Position || id != sm.EventID {
			if perr != nil {
				err = perr
				return false
			}
			s.lg.Warn("snapshot: skipping a snapshot the log no longer matches (an unsynced tail was lost?)",
				"stream", stream, "snapshot", sm.ID, "version", sm.Version, "position", sm.Position, "logPosition", pos)
			return true
		}
		b, derr := st()
		if derr == nil {
			state, derr = jsonv.DecodeObject(b)
		}
		if derr != nil {
			s.lg.Warn("snapshot: skipping a damaged snapshot", "stream", stream, "snapshot", sm.ID, "err", derr)
			return true
		}
		m, ok = sm, true
		return false
	})
	return m, state, ok, err
}

// fits reports whether a snapshot was made by red through the chain
// revisions the event types it folded still have.
func (s *Store) fits(m *Snapshot, red reducer.Reducer) bool {
	if m.Reducer != red.Name() || m.ReducerRevision != red.Revision() {
		return false
	}
	for typ, rev := range m.Types {
		if s.revs.Revision(typ) != rev {
			return false
		}
	}
	return true
}
