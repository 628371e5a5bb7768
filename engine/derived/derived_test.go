package derived

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/eventd/eventd/engine/derived/derivedtest"
)

// within fails the test if fn has not returned after d (a commit pipeline
// left stuck shows up as a hang).
func within(t *testing.T, d time.Duration, what string, fn func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); fn() }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("%s did not return within %v", what, d)
	}
}

// A WAL write that fails fails the write at hand with ErrFailed instead of
// ending the process — through pebble's "fatal commit error" (a synced
// commit, Fatalf) or its panic in the commit pipeline (an unsynced commit
// after the WAL's background write failed); every later write fails at
// once without reaching pebble; reads go on; Close returns; and the next
// start (a new process: a crash clone of what was synced) finds what was
// synced before.
func TestWALFailureIsContained(t *testing.T) {
	for _, sync := range []bool{true, false} {
		t.Run(fmt.Sprintf("sync=%v", sync), func(t *testing.T) { walFailure(t, sync) })
	}
}

func walFailure(t *testing.T, sync bool) {
	mem := vfs.NewCrashableMem()
	inj := &derivedtest.WAL{Errno: syscall.EIO}
	db, err := Open("/db", inj.Wrap(mem), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Set([]byte("before"), []byte("1"), pebble.Sync); err != nil {
		t.Fatal(err)
	}

	inj.On()
	opts := pebble.NoSync
	if sync {
		opts = pebble.Sync
	}
	within(t, 10*time.Second, "the failing commits", func() {
		for i := 0; i < 1000 && db.Err() == nil; i++ {
			b := db.NewBatch()
			_ = b.Set([]byte("during"), make([]byte, 1024), nil) // the WAL's 32 KiB blocks fill
			err = db.Commit(b, opts)
			_ = b.Close()
			time.Sleep(time.Millisecond)
		}
	})
	if !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), "input/output error") {
		t.Fatalf("commit on a full WAL: %v, want ErrFailed with the cause", err)
	}
	if !errors.Is(db.Err(), ErrFailed) {
		t.Fatalf("Err after the failure: %v", db.Err())
	}
	inj.Off() // even with room again: pebble's pipeline is gone until a restart
	b := db.NewBatch()
	_ = b.Set([]byte("after"), []byte("3"), nil)
	within(t, 5*time.Second, "later writes", func() {
		if err := db.Commit(b, pebble.NoSync); !errors.Is(err, ErrFailed) {
			t.Errorf("commit after the failure: %v", err)
		}
		if err := db.Set([]byte("after"), []byte("3"), pebble.NoSync); !errors.Is(err, ErrFailed) {
			t.Errorf("set after the failure: %v", err)
		}
		if err := db.Sync(); !errors.Is(err, ErrFailed) {
			t.Errorf("sync after the failure: %v", err)
		}
	})
	_ = b.Close()
	v, closer, err := db.Get([]byte("before"))
	if err != nil || string(v) != "1" {
		t.Fatalf("read after the failure: %q %v", v, err)
	}
	closer.Close()
	within(t, 5*time.Second, "Close", func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close after the failure: %v (reported when it happened)", err)
		}
	})

	db, err = Open("/db", mem.CrashClone(vfs.CrashCloneCfg{}), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer db.Close()
	if v, closer, err := db.Get([]byte("before")); err != nil || string(v) != "1" {
		t.Fatalf("synced key after the restart: %q %v", v, err)
	} else {
		closer.Close()
	}
	if _, _, err := db.Get([]byte("after")); !errors.Is(err, pebble.ErrNotFound) {
		t.Fatalf("a write refused after the failure is there: %v", err)
	}
	if err := db.Set([]byte("again"), []byte("4"), pebble.Sync); err != nil || db.Err() != nil {
		t.Fatalf("writes after the restart: %v %v", err, db.Err())
	}
}

// A full disk (ENOSPC on the WAL) does not fail the store: a synced commit
// waits, Problem says so, and once there is room again the commit goes
// through, the store is healthy and the write durable.
func TestNoRoomWaits(t *testing.T) {
	mem := vfs.NewCrashableMem()
	inj := &derivedtest.WAL{Errno: syscall.ENOSPC}
	db, err := Open("/db", inj.Wrap(mem), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	inj.On()
	done := make(chan error, 1)
	go func() {
		b := db.NewBatch()
		defer b.Close()
		_ = b.Set([]byte("k"), []byte("v"), nil)
		done <- db.Commit(b, pebble.Sync)
	}()
	for deadline := time.Now().Add(10 * time.Second); !db.Waiting(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no write waits for room 10 s after the disk was full")
		}
	}
	select {
	case err := <-done:
		t.Fatalf("the commit returned (%v) while the disk was full", err)
	case <-time.After(100 * time.Millisecond):
	}
	if p := db.Problem(); !strings.Contains(p, "no room") || !strings.Contains(p, "no space left on device") || db.Err() != nil {
		t.Fatalf("while full: problem %q, Err %v", p, db.Err())
	}
	if err := db.Available(); !errors.Is(err, ErrNoRoom) {
		t.Fatalf("Available while full: %v, want ErrNoRoom (requests answer 503, not wait)", err)
	}
	inj.Off()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the commit once there was room: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the commit did not go through 10 s after there was room")
	}
	if db.Waiting() || db.Problem() != "" || db.Err() != nil || db.Available() != nil {
		t.Fatalf("after: waiting %v, problem %q, Err %v, Available %v", db.Waiting(), db.Problem(), db.Err(), db.Available())
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open("/db", mem.CrashClone(vfs.CrashCloneCfg{}), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if v, closer, err := db.Get([]byte("k")); err != nil || string(v) != "v" {
		t.Fatalf("the synced write after a restart: %q %v", v, err)
	} else {
		closer.Close()
	}
}

// Opening on a full disk fails (the daemon does not start, as before
// engine/derived) instead of waiting for room with nothing served: a new
// store, and one with a WAL to replay (pebble retries that flush forever).
func TestOpenOnFullDiskFails(t *testing.T) {
	for _, existing := range []bool{false, true} {
		t.Run(fmt.Sprintf("existing=%v", existing), func(t *testing.T) {
			mem := vfs.NewMem()
			if existing {
				db, err := Open("/db", mem, slog.New(slog.DiscardHandler))
				if err != nil {
					t.Fatal(err)
				}
				if err := db.Set([]byte("k"), []byte("v"), pebble.Sync); err != nil {
					t.Fatal(err)
				}
				if err := db.Close(); err != nil {
					t.Fatal(err)
				}
			}
			inj := &derivedtest.WAL{Errno: syscall.ENOSPC, All: true}
			inj.On()
			within(t, 10*time.Second, "Open", func() {
				if db, err := Open("/db", inj.Wrap(mem), slog.New(slog.DiscardHandler)); err == nil {
					db.Close()
					t.Error("Open on a full disk succeeded")
				} else if !strings.Contains(err.Error(), "no space left on device") {
					t.Errorf("Open on a full disk: %v", err)
				}
			})
		})
	}
}

// pebble would reserve 35 MiB for a WAL holding 100 KiB of records; the
// store reserves nothing, so the WAL takes what is written (on the real
// file system: preallocation needs a file descriptor).
func TestNoWALPreallocation(t *testing.T) {
	dir := t.TempDir()
	db, err := Open(dir, nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i := range 100 { // a few of the WAL's 32 KiB blocks
		if err := db.Set(fmt.Appendf(nil, "k%d", i), make([]byte, 1024), pebble.Sync); err != nil {
			t.Fatal(err)
		}
	}
	wals, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	if len(wals) == 0 {
		t.Fatal("no WAL file")
	}
	for _, w := range wals {
		var st syscall.Stat_t
		if err := syscall.Stat(w, &st); err != nil {
			t.Fatal(err)
		}
		if used := st.Blocks * 512; used > 1<<20 {
			t.Fatalf("%s takes %d bytes on disk for 100 KiB of records: preallocated", w, used)
		}
	}
}
