package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	pvfs "github.com/cockroachdb/pebble/v2/vfs"

	"github.com/eventd/eventd/engine"
	"github.com/eventd/eventd/engine/command"
	"github.com/eventd/eventd/engine/derived"
	"github.com/eventd/eventd/engine/projection"
	"github.com/eventd/eventd/engine/reducer"
	"github.com/eventd/eventd/engine/schema"
	"github.com/eventd/eventd/engine/snapshot"
)

// subsystems are the parts of eventd built on the store: each talks to it
// through an interface of its own; only this file knows them all.
type subsystems struct {
	schemas     *schema.Registry
	reducers    *reducer.Registry
	db          *derived.DB // derived data: read models and snapshots
	snapshots   *snapshot.Store
	projections *projection.Manager
	commands    *command.Service
}

// openSubsystems loads every subsystem's definitions from the log and
// starts them, in dependency order: schemas (the read path's upcaster and
// the append path's validator: everything after sees events upcast),
// reducers, snapshots, then projections and commands, which fold with the
// reducers (commands from snapshots).
func openSubsystems(store *engine.Store, dataDir string, snapOpts snapshot.Options, log *slog.Logger) (*subsystems, error) {
	return openSubsystemsTuned(store, dataDir, snapOpts, log, tuning{})
}

// tuning changes how openSubsystemsTuned opens the subsystems; the zero
// value is the daemon's. Tests put the derived-data store on an in-memory
// file system and flush projections more often.
type tuning struct {
	dbFS        pvfs.FS            // nil: the operating system's
	projections projection.Options // Logger is set here
	commands    command.Options    // Logger and Fold are set here
}

func openSubsystemsTuned(store *engine.Store, dataDir string, snapOpts snapshot.Options, log *slog.Logger, tn tuning) (*subsystems, error) {
	ss := &subsystems{}
	var err error
	if ss.schemas, err = schema.Open(store); err != nil {
		return nil, fmt.Errorf("loading schemas: %w", err)
	}
	store.SetUpcaster(ss.schemas)
	store.SetValidator(ss.schemas)
	if ss.reducers, err = reducer.Open(store); err != nil {
		return nil, fmt.Errorf("loading reducers: %w", err)
	}
	if ss.db, err = derived.Open(engine.Layout{Dir: dataDir}.Projections(), tn.dbFS, log); err != nil {
		return nil, fmt.Errorf("opening the derived-data store: %w", err)
	}
	snapOpts.Logger = log
	if ss.snapshots, err = snapshot.Open(ss.db, store, ss.reducers, ss.schemas, snapOpts); err != nil {
		_ = ss.close()
		return nil, fmt.Errorf("starting snapshots: %w", err)
	}
	popts := tn.projections
	popts.Logger = log
	if ss.projections, err = projection.Open(ss.db, store, ss.reducers, popts); err != nil {
		_ = ss.close()
		return nil, fmt.Errorf("starting projections: %w", err)
	}
	copts := tn.commands
	copts.Logger = log
	copts.Fold = func(ctx context.Context, stream string, to uint64, red reducer.Reducer) (reducer.State, error) {
		res, err := ss.snapshots.Replay(ctx, stream, to, red, true, nil)
		return res.State, err
	}
	if ss.commands, err = command.Open(store, ss.reducers, copts); err != nil {
		_ = ss.close()
		return nil, fmt.Errorf("starting commands: %w", err)
	}
	return ss, nil
}

// close stops the subsystems in the reverse order (commands first: they
// append; projections then persist their state; the store closes after).
//
// Projections, snapshots and the derived-data store write to the disk, and
// on a full one they wait for room (engine/derived): once their writes
// have waited derivedCloseWait in all, they are left as they are (the next
// start resumes them from what pebble had synced, as after a crash) and
// close returns an error saying so — the log still closes after it. A stop
// that is merely slow (a big model to flush) is waited for.
func (ss *subsystems) close() error {
	var errs []error
	if ss.commands != nil {
		errs = append(errs, ss.commands.Close())
	}
	done := make(chan error, 1)
	go func() { done <- ss.closeDerived() }()
	tick := time.NewTicker(derivedCloseTick)
	defer tick.Stop()
	for waited := time.Duration(0); ; {
		select {
		case err := <-done:
			return errors.Join(append(errs, err)...)
		case <-tick.C:
			if ss.db == nil || !ss.db.Waiting() {
				continue
			}
			if waited += derivedCloseTick; waited >= derivedCloseWait {
				errs = append(errs, fmt.Errorf("projections and snapshots still wait for room on the disk after %v: left as they are; the next start resumes them from their last checkpoints", derivedCloseWait))
				return errors.Join(errs...)
			}
		}
	}
}

// derivedCloseWait bounds how long a stop waits for room on the disk
// (close); derivedCloseTick is how often it looks.
const (
	derivedCloseWait = 15 * time.Second
	derivedCloseTick = 100 * time.Millisecond
)

// closeDerived stops projections and snapshots and closes their store.
func (ss *subsystems) closeDerived() error {
	var errs []error
	if ss.projections != nil {
		errs = append(errs, ss.projections.Close())
	}
	if ss.snapshots != nil {
		errs = append(errs, ss.snapshots.Close())
	}
	if ss.db != nil {
		errs = append(errs, ss.db.Close())
	}
	return errors.Join(errs...)
}

// totalCommands is /health's totalCommands.
func (ss *subsystems) totalCommands() uint64 { return ss.commands.Total() }

// serverStore is the store as the server sees it: its problems (/health,
// eventd_healthy) include the derived-data store's — waiting for room on
// the disk, or failed — which leave the log working.
type serverStore struct {
	*engine.Store
	db *derived.DB
}

func (s serverStore) Problems() []string {
	p := s.Store.Problems()
	if d := s.db.Problem(); d != "" {
		p = append(slices.Clip(p), d)
	}
	return p
}
