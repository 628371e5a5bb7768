package main

// Power loss across every subsystem: a randomised workload (appends and
// batches that roll segments, sync and async commands, projections with
// pause/resume/reset, snapshots taken by hand and automatically, reducer
// and schema changes) runs over two in-memory file systems that remember
// what was synced: the log's (segment/vfs.Mem) and pebble's
// (pebble/vfs.NewCrashableMem, the derived-data store). Every durability
// point of either — a file or directory sync — goes through one mutex, so a
// crash clone taken between two of them is an exact power loss of the
// whole data dir. At sampled points the test clones both, reopens
// everything on the clone as cmd/eventd/wiring.go does, and checks the
// promises: every acknowledged event, definition and command status is
// there (no gap, no duplicate, no command run twice), pending async
// commands finish, projections equal a recount of the log, and a replay
// from a snapshot equals a replay from version 0.
//
// The parts: powerloss_rig_test.go (the file systems and crash images),
// powerloss_workload_test.go (what runs and what was acknowledged),
// powerloss_check_test.go (checking one crash image); the tests are here.

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	pvfs "github.com/cockroachdb/pebble/v2/vfs"

	"github.com/eventd/eventd/engine"
	"github.com/eventd/eventd/engine/snapshot"
	"github.com/eventd/eventd/segment/vfs"
)

var (
	plEvery = flag.Int("powerloss-every", 0, "TestPowerLoss verifies about one crash point in N, sampled with -powerloss-seed (0: the default, every point, or 1 in 8 under -race)")
	plOps   = flag.Int("powerloss-ops", 0, "operations per workload goroutine of TestPowerLoss (0: the default, 300, or 120 under -race)")
	plSeed  = flag.Uint64("powerloss-seed", 1, "seed of TestPowerLoss's workload and point sampling")
	plFails = flag.Int("powerloss-fails", 0, "runs of TestPowerLossFailedSync, each failing the log's syncs from a sampled point on (0: the default, 24, or 6 under -race)")
)

const (
	plDir          = "/data"
	commandsStream = "$commands" // engine/command's system stream
)

// ---- the tests ------------------------------------------------------------------

// newRigEnv opens the store and every subsystem on fresh in-memory file
// systems joined by a rig.
func newRigEnv(r *rig) (*plEnv, error) {
	r.logFS = vfs.NewMem()
	r.dbFS = pvfs.NewCrashableMem()
	// The data dir and projections/ exist durably, as they would after
	// the first start.
	if err := r.dbFS.MkdirAll(plDir+"/projections", 0o755); err != nil {
		return nil, err
	}
	for _, d := range []string{"/", plDir} {
		f, err := r.dbFS.OpenDir(d)
		if err != nil {
			return nil, err
		}
		if err := errors.Join(f.Sync(), f.Close()); err != nil {
			return nil, err
		}
	}
	return openPL(rigLogFS{r.logFS, r}, rigDBFS{r.dbFS, r}, snapshot.Options{Every: 4, After: -1, Retain: 2})
}

func plDefaults() (every, ops, fails int) {
	every, ops, fails = 1, 300, 24
	if raceEnabled {
		every, ops, fails = 8, 120, 6
	}
	if *plEvery > 0 {
		every = *plEvery
	}
	if *plOps > 0 {
		ops = *plOps
	}
	if *plFails > 0 {
		fails = *plFails
	}
	return every, ops, fails
}

// TestPowerLoss runs the workload once, cloning the data dir before about
// one durability point in -powerloss-every (sampled with -powerloss-seed)
// and at the end, and checks each clone while the run goes on.
func TestPowerLoss(t *testing.T) {
	every, ops, _ := plDefaults()
	started := time.Now()
	led := &ledger{}
	sample := rand.New(rand.NewPCG(*plSeed, 7))
	imgs := make(chan *crashImage, 2)
	r := &rig{failLogAt: -1, mark: led.mark, onClone: func(img *crashImage) { imgs <- img }}
	r.capture = func(n int64) bool { return n < 8 || sample.IntN(every) == 0 }
	stats := &plStats{}
	var failures []string
	checked := make(chan struct{})
	go func() { // checks clones while the run goes on (it waits when two are queued)
		defer close(checked)
		for img := range imgs {
			if err := checkImage(led, img, stats); err != nil && len(failures) < 5 {
				failures = append(failures, fmt.Sprintf("power loss before durability point %d (%d events, %d commands acknowledged): %v", img.point, img.acked.events, img.acked.cmds, err))
			}
		}
	}()
	env, err := newRigEnv(r)
	if err != nil {
		close(imgs)
		<-checked
		t.Fatal(err)
	}
	w := &plWorkload{t: t, env: env, led: led, ops: ops, seed: *plSeed}
	runErr := w.run(context.Background(), 3)
	// Without a clean close: the power goes at the end of the run.
	fin := r.final()
	r.mu.Lock()
	r.capture = nil
	total := r.n
	r.mu.Unlock()
	imgs <- fin
	close(imgs)
	<-checked
	segments := env.store.Stats().Segments
	cerr := env.close()
	if runErr != nil {
		t.Fatalf("workload: %v", runErr)
	}
	if cerr != nil {
		t.Fatalf("close: %v", cerr)
	}
	for _, f := range failures {
		t.Error(f)
	}
	led.mu.Lock()
	nev, ncmd := len(led.events), len(led.cmds)
	led.mu.Unlock()
	t.Logf("power loss swept %d of %d crash points (one before each sync of the log or of pebble, and the end; seed %d, 1 in ~%d and the first 8) in %v; run: %d events and %d commands acknowledged, %d segments; checks: %d acknowledged events and %d command statuses verified in all, %d interrupted async commands run after the crash, %d replays started from a snapshot, %d stale snapshots passed over",
		stats.points, total+1, *plSeed, every, time.Since(started).Round(time.Millisecond), nev, ncmd, segments, stats.events, stats.commands, stats.pendingRun, stats.snapshotsUsed, stats.snapshotsRetired)
	if stats.points < 10 || stats.snapshotsUsed == 0 || stats.pendingRun == 0 || stats.snapshotsRetired == 0 {
		t.Errorf("the sweep proved too little: %d points, %d replays from a snapshot, %d interrupted async commands, %d stale snapshots", stats.points, stats.snapshotsUsed, stats.pendingRun, stats.snapshotsRetired)
	}
}

// TestPowerLossFailedSync fails the log's syncs from a sampled point on
// (a dying disk: sticky errors in every subsystem), lets the workload run
// into the failure, and checks the data dir after a power loss at the end:
// whatever was acknowledged before the failure is there, and nothing
// after it was acknowledged.
func TestPowerLossFailedSync(t *testing.T) {
	_, ops, fails := plDefaults()
	ops = max(ops/3, 10)
	// A probe run counts the points of a whole run.
	probe := &rig{failLogAt: -1, mark: func() ackMark { return ackMark{} }}
	env, err := newRigEnv(probe)
	if err != nil {
		t.Fatal(err)
	}
	w := &plWorkload{t: t, env: env, led: &ledger{}, ops: ops, seed: *plSeed}
	if err := w.run(context.Background(), 3); err != nil {
		t.Fatalf("probe run: %v", err)
	}
	if err := env.close(); err != nil {
		t.Fatal(err)
	}
	total := probe.n
	sample := rand.New(rand.NewPCG(*plSeed, 11))
	stats := &plStats{}
	for i := range fails {
		at := sample.Int64N(total)
		if i == 0 {
			at = 0 // the very first sync: nothing can be written
		}
		led := &ledger{}
		r := &rig{failLogAt: at, mark: led.mark}
		env, err := newRigEnv(r)
		if err != nil {
			if !errors.Is(err, vfs.ErrInjected) {
				t.Fatalf("fail at %d: open: %v", at, err)
			}
		} else {
			w := &plWorkload{t: t, env: env, led: led, ops: ops, seed: *plSeed + uint64(i), failed: true}
			if err := w.run(context.Background(), 3); err != nil {
				t.Fatalf("fail at %d: %v", at, err)
			}
			if at < total/2 && env.store.Err() == nil {
				t.Fatalf("fail at %d: the store did not fail", at)
			}
			// After the failure nothing may be acknowledged: every append fails.
			if env.store.Err() != nil {
				if _, err := env.store.Append(context.Background(), "after", engine.Any, []engine.Proposed{{Type: "T", Data: []byte(`{}`)}}); err == nil {
					t.Fatalf("fail at %d: an append succeeded after the log failed", at)
				}
			}
			_ = env.close() // errors expected: the log failed
		}
		if err := checkImage(led, r.final(), stats); err != nil {
			t.Fatalf("log syncs failing from point %d of %d: %v", at, total, err)
		}
	}
	t.Logf("failed-sync sweep: %d runs of %d points each, %d acknowledged events and %d command statuses verified", fails, total, stats.events, stats.commands)
}
