package engine

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/eventd/eventd/segment"
	"github.com/eventd/eventd/segment/vfs"
)

func TestFsyncPolicies(t *testing.T) {
	for _, c := range []struct {
		p    FsyncPolicy
		name string
	}{{FsyncAlways, "always"}, {FsyncInterval, "interval:5ms"}, {FsyncNever, "never"}} {
		mem := vfs.NewMem()
		s := openT(t, "/d", Options{FS: mem, Fsync: c.p, FsyncInterval: 5 * time.Millisecond})
		if s.Policy() != c.name {
			t.Fatalf("Policy() = %q, want %q", s.Policy(), c.name)
		}
		mustAppend(t, s, "a", Any, ev("T", `{}`))
		time.Sleep(50 * time.Millisecond) // interval: the timer fsyncs by now
		for deadline := time.Now().Add(5 * time.Second); c.p == FsyncInterval && s.Stats().Fsyncs == 0 && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond) // a loaded machine: wait for the interval fsync itself
		}
		crashed := mem.Crash()
		c2 := openT(t, "/d", Options{FS: crashed})
		want := uint64(1)
		if c.p == FsyncNever {
			want = 0 // nothing fsynced the event: a power loss takes it
		}
		if c2.Head() != want {
			t.Fatalf("%s: %d events survive a power loss, want %d", c.name, c2.Head(), want)
		}
		c2.Close()
		if fs := s.Stats().Fsyncs; (c.p == FsyncNever) != (fs == 0) {
			t.Fatalf("%s: %d fsyncs", c.name, fs)
		}
		s.Close()
	}
}

// TestCorruptionFoundAfterStart damages a record in a sealed segment: the
// store still opens (tail verification), the scrub marks it degraded with
// file and offset, and reads of the damaged event fail instead of
// returning anything wrong; other events stay readable.
func TestCorruptionFoundAfterStart(t *testing.T) {
	dir := t.TempDir()
	o := Options{Fsync: FsyncNever, SegmentSize: 32 << 10}
	s := openT(t, dir, o)
	for i := 0; i < 600; i++ {
		mustAppend(t, s, "s-"+string(rune(97+i%5)), Any, ev("T", `{"pad":"0123456789012345678901234567890123456789"}`))
	}
	loc, _ := s.ix.Locate(10) // an event in the first segment
	s.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "log", "*.seg"))
	sort.Strings(segs)
	if len(segs) < 3 {
		t.Fatalf("want several segments, got %d", len(segs))
	}
	// Flip a byte inside the payload of position 10's record, in an early
	// (sealed) segment: the first, or the second when the log moved early
	// into a zero-filled one.
	seg := int(segment.LocSegment(loc))
	if seg >= len(segs)-1 {
		t.Fatalf("position 10 is in segment %d of %d: not a sealed one", seg, len(segs))
	}
	b, err := os.ReadFile(segs[seg])
	if err != nil {
		t.Fatal(err, loc)
	}
	b[segment.LocOffset(loc)+30] ^= 0x40
	if err := os.WriteFile(segs[seg], b, 0o644); err != nil {
		t.Fatal(err)
	}
	s = openT(t, dir, o)
	defer s.Close()
	deadline := time.Now().Add(5 * time.Second)
	for !s.Degraded() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if !s.Degraded() || len(s.Problems()) == 0 {
		t.Fatal("scrub did not report the damaged segment")
	}
	_, err = s.ReadAll(0, Forward, 10000, Filter{})
	var ce *segment.CorruptionError
	if !errors.As(err, &ce) || ce.File == "" || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("reading over the damage: %v, want a *segment.CorruptionError with the file", err)
	}
	// The last events (in a later segment) still read fine.
	if p, err := s.ReadAll(590, Forward, 100, Filter{}); err != nil || len(p.Events) != 10 {
		t.Fatalf("reading past the damage: %d events, %v", len(p.Events), err)
	}
	// Appends go on: the log's tail is healthy.
	mustAppend(t, s, "after", Any, ev("T", `{}`))

	// With VerifyFull the store refuses to open …
	s.Close()
	if _, err := Open(dir, Options{Fsync: FsyncNever, SegmentSize: 32 << 10, VerifyFull: true}); !errors.As(err, &ce) {
		t.Fatalf("VerifyFull on a damaged log: %v", err)
	}
	// … unless asked to repair: the log is cut before the damage.
	r := openT(t, dir, Options{Fsync: FsyncNever, SegmentSize: 32 << 10, VerifyFull: true, Repair: true})
	defer r.Close()
	if r.Head() == 0 || r.Head() >= 601 {
		t.Fatalf("after repair head is %d", r.Head())
	}
	if p, err := r.ReadAll(0, Forward, 10000, Filter{}); err != nil || uint64(len(p.Events)) != r.Head() {
		t.Fatalf("after repair: %d events, %v", len(p.Events), err)
	}
	broken, _ := filepath.Glob(filepath.Join(dir, "log", "*.broken"))
	if len(broken) == 0 {
		t.Fatal("repair kept no .broken copy")
	}
}

// Without fsync=always, writeback order is the kernel's: after a power loss
// a torn frame may sit before an intact one in the unsynced window. The
// store then cuts the log at the damage (keeping a .broken copy) instead of
// refusing to start; with fsync=always (or VerifyFull) it is corruption.
func TestUnsyncedWindowDamageIsCut(t *testing.T) {
	mem := vfs.NewMem()
	o := Options{FS: mem, Fsync: FsyncNever}
	s := openT(t, "/d", o)
	for i := 0; i < 50; i++ {
		mustAppend(t, s, "s", Any, ev("T", `{"pad":"0123456789"}`))
	}
	loc, _ := s.ix.Locate(25)
	path := s.segmentPath(segment.LocSegment(loc))
	s.Close()
	f, err := mem.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	off := segment.LocOffset(loc) + 30 // inside record 25's payload
	f.ReadAt(b, off)
	b[0] ^= 0x20
	f.WriteAt(b, off)
	f.Close()

	for _, strict := range []Options{{FS: mem, Fsync: FsyncAlways}, {FS: mem, Fsync: FsyncNever, VerifyFull: true}} {
		var ce *segment.CorruptionError
		if _, err := Open("/d", strict); !errors.As(err, &ce) {
			t.Fatalf("%+v: Open: %v, want corruption", strict, err)
		}
	}
	r := openT(t, "/d", o)
	defer r.Close()
	if r.Head() != 24 {
		t.Fatalf("head %d after cutting at position 25, want 24", r.Head())
	}
	if p, err := r.ReadAll(0, Forward, 100, Filter{}); err != nil || len(p.Events) != 24 {
		t.Fatalf("after the cut: %d events, %v", len(p.Events), err)
	}
	names, _ := mem.ReadDir("/d/log")
	broken := false
	for _, n := range names {
		broken = broken || strings.HasSuffix(n, ".broken")
	}
	if !broken {
		t.Fatalf("no .broken copy kept: %v", names)
	}
	mustAppend(t, r, "s", 24, ev("T", `{}`))
}
