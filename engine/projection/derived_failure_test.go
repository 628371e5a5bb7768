package projection

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/eventd/eventd/engine/derived"
	"github.com/eventd/eventd/engine/derived/derivedtest"
)

// The derived-data store fails (its WAL cannot be written: EIO, a failing disk):
// the projection stops in error with the reason instead of the daemon
// ending, the log goes on taking appends, Close reports nothing more, and
// the next start (a new process: pebble's files as synced) resumes from
// the checkpoint pebble had synced and counts every event exactly once.
func TestDerivedStoreFailureStopsProjections(t *testing.T) {
	inj, mem := &derivedtest.WAL{Errno: syscall.EIO}, vfs.NewCrashableMem()
	e, add, n := countingEnv(t, inj.Wrap(mem))

	inj.On()
	deadline := time.Now().Add(20 * time.Second)
	for e.get("x").Status != StatusError {
		if time.Now().After(deadline) {
			t.Fatalf("no error status 20 s after the WAL failed: %+v", e.get("x"))
		}
		add() // each append moves the runner to another flush, and a commit
		time.Sleep(2 * time.Millisecond)
	}
	if in := e.get("x"); !strings.Contains(in.Error, "derived-data store failed") || !strings.Contains(in.Error, "input/output error") {
		t.Fatalf("error status without the reason: %q", in.Error)
	}
	if e.db.Err() == nil {
		t.Fatal("the store does not say it failed")
	}
	last := add() // the log is not affected
	e.close()     // fails the test if Close reports the failure again

	e.fs = mem.CrashClone(vfs.CrashCloneCfg{}) // the failed pebble is never closed: a restart
	e.open()
	e.wait("x", last)
	if in := e.get("x"); in.Status != StatusActive || in.EventsProcessed != uint64(*n) {
		t.Fatalf("after the restart: %+v, want active with %d events", in, *n)
	}
	if total, _ := e.counts("x"); total != float64(*n) {
		t.Fatalf("count %v after the restart, want %d (each event once)", total, *n)
	}
}

// While the derived-data store waits for room on a full disk, the
// projections pause and admin requests fail at once with ErrNoRoom,
// journaling nothing; once there is room everything goes on by itself.
func TestNoRoomPausesProjections(t *testing.T) {
	inj := &derivedtest.WAL{Errno: syscall.ENOSPC}
	e, add, n := countingEnv(t, inj.Wrap(vfs.NewCrashableMem()))

	inj.On()
	for deadline := time.Now().Add(20 * time.Second); !e.db.Waiting(); {
		if time.Now().After(deadline) {
			t.Fatal("no write waits for room 20 s after the disk was full")
		}
		add()
		time.Sleep(2 * time.Millisecond)
	}
	journal := func() uint64 { info, _ := e.st.Stream(journalStream); return info.Version }
	before := journal()
	if _, _, err := e.m.Create(context.Background(), Definition{ID: "y", Name: "n", Kind: KindCount}); !errors.Is(err, derived.ErrNoRoom) {
		t.Fatalf("Create while the disk is full: %v, want ErrNoRoom", err)
	}
	if err := e.m.Delete(context.Background(), "x"); !errors.Is(err, derived.ErrNoRoom) {
		t.Fatalf("Delete while the disk is full: %v, want ErrNoRoom", err)
	}
	if after := journal(); after != before {
		t.Fatalf("refused requests journaled %d events", after-before)
	}

	inj.Off()
	for deadline := time.Now().Add(10 * time.Second); e.db.Waiting(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("writes still wait 10 s after there was room")
		}
	}
	last := add()
	e.wait("x", last)
	if in := e.get("x"); in.Status != StatusActive || in.EventsProcessed != uint64(*n) || e.db.Err() != nil {
		t.Fatalf("after room came back: %+v (err %v), want active with %d events", in, e.db.Err(), *n)
	}
	e.create(Definition{ID: "y", Name: "n", Kind: KindCount})
}

// countingEnv opens an env whose derived store is on fs, with a count
// projection "x" that has seen one event; add appends another to a-1 and
// counts it in *n.
func countingEnv(t *testing.T, fs vfs.FS) (e *env, add func() uint64, n *int) {
	e = &env{t: t, dir: t.TempDir(), reg: newRegistry(), fs: fs,
		opts: Options{noSystem: true, FlushInterval: time.Millisecond}}
	e.open()
	t.Cleanup(e.close)
	e.create(Definition{ID: "x", Name: "n", Kind: KindCount})
	n = new(int)
	add = func() uint64 { *n++; return e.add("a-1", "A", M{}) }
	e.wait("x", add())
	return e, add, n
}
