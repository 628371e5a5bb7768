package vfs

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func write(t *testing.T, fs FS, name string, b []byte, sync bool) File {
	t.Helper()
	f, err := fs.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(b, 0); err != nil {
		t.Fatal(err)
	}
	if sync {
		if err := f.Sync(); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func contents(t *testing.T, fs FS, name string) ([]byte, bool) {
	t.Helper()
	f, err := fs.OpenFile(name, os.O_RDONLY, 0)
	if IsNotExist(err) {
		return nil, false
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n, _ := f.Size()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, 0); err != nil && err != io.EOF {
		t.Fatal(err)
	}
	return b, true
}

func TestMemCrash(t *testing.T) {
	m := NewMem()
	if err := m.MkdirAll("/d", 0o755); err != nil {
		t.Fatal(err)
	}
	a := write(t, m, "/d/a", []byte("synced"), true)
	write(t, m, "/d/unnamed", []byte("data synced, name not"), true)
	if err := m.SyncDir("/d"); err != nil {
		t.Fatal(err)
	}
	// After the SyncDir: unsynced bytes, a new name, a rename, a remove.
	a.WriteAt([]byte("SYNCED and more"), 0)
	write(t, m, "/d/new", []byte("x"), true)
	if err := m.Rename("/d/unnamed", "/d/renamed"); err != nil {
		t.Fatal(err)
	}
	c := m.Crash()
	if b, _ := contents(t, c, "/d/a"); string(b) != "synced" {
		t.Fatalf("a after crash: %q", b)
	}
	if _, ok := contents(t, c, "/d/new"); ok {
		t.Fatal("a create survived without SyncDir")
	}
	if _, ok := contents(t, c, "/d/renamed"); ok {
		t.Fatal("a rename survived without SyncDir")
	}
	if b, _ := contents(t, c, "/d/unnamed"); string(b) != "data synced, name not" {
		t.Fatalf("old name after crash: %q", b)
	}
	// m itself is unchanged and sees everything.
	if b, _ := contents(t, m, "/d/a"); string(b) != "SYNCED and more" {
		t.Fatalf("a: %q", b)
	}
	if err := m.Remove("/d/a"); err != nil {
		t.Fatal(err)
	}
	if err := m.SyncDir("/d"); err != nil {
		t.Fatal(err)
	}
	c = m.Crash()
	if _, ok := contents(t, c, "/d/a"); ok {
		t.Fatal("a removed and synced, but back after crash")
	}
	if b, _ := contents(t, c, "/d/renamed"); string(b) != "data synced, name not" {
		t.Fatalf("renamed after crash: %q", b)
	}
	names, err := c.ReadDir("/d")
	if err != nil || len(names) != 2 || names[0] != "new" || names[1] != "renamed" {
		t.Fatalf("ReadDir after crash: %v %v", names, err)
	}
	// Truncate is volatile until Sync too.
	f := write(t, m, "/d/new", []byte("xxxxxxxx"), true)
	f.Truncate(2)
	if b, _ := contents(t, m.Crash(), "/d/new"); len(b) != 8 {
		t.Fatalf("unsynced truncate survived: %q", b)
	}
	// Shrink, then grow by a write past the end: the gap reads as zeros.
	f = write(t, m, "/d/new", []byte("abcdefghij"), true)
	f.Truncate(3)
	f.WriteAt([]byte("XY"), 6)
	f.Sync()
	f.WriteAt([]byte("unsynced"), 0)
	if b, _ := contents(t, m.Crash(), "/d/new"); string(b) != "abc\x00\x00\x00XY" {
		t.Fatalf("after shrink and grow: %q", b)
	}
}

func TestMemFileErrors(t *testing.T) {
	m := NewMem()
	if _, err := m.OpenFile("/nodir/f", os.O_RDWR|os.O_CREATE, 0o644); !IsNotExist(err) {
		t.Fatal(err)
	}
	if _, err := m.OpenFile("/f", os.O_RDWR, 0); !IsNotExist(err) {
		t.Fatal(err)
	}
	f := write(t, m, "/f", []byte("abc"), false)
	if _, err := m.OpenFile("/f", os.O_RDWR|os.O_CREATE|os.O_EXCL, 0); err == nil {
		t.Fatal("O_EXCL on an existing file")
	}
	buf := make([]byte, 5)
	if n, err := f.ReadAt(buf, 1); n != 2 || err != io.EOF {
		t.Fatal(n, err)
	}
	f.Close()
	if _, err := f.WriteAt([]byte("x"), 0); err == nil {
		t.Fatal("write after close")
	}
	if err := f.Sync(); err == nil {
		t.Fatal("sync after close")
	}
	r, _ := m.OpenFile("/f", os.O_RDONLY, 0)
	if _, err := r.WriteAt([]byte("x"), 0); err == nil {
		t.Fatal("write to a read-only file")
	}
}

func TestFault(t *testing.T) {
	m := NewMem()
	fs := NewFault(m)
	fs.FailWriteAt(2)
	fs.FailSyncAt(1)
	f, err := fs.OpenFile("/f", os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, err := f.WriteAt([]byte("0123"), int64(4*i)); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if _, err := f.WriteAt([]byte("abcdefgh"), 8); !errors.Is(err, ErrInjected) {
		t.Fatalf("write 2: %v", err)
	}
	if _, err := f.WriteAt([]byte("z"), 0); !errors.Is(err, ErrInjected) {
		t.Fatalf("write 3: %v", err)
	}
	if b, _ := contents(t, m, "/f"); string(b) != "01230123abcd" {
		t.Fatalf("torn write left %q", b)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := fs.SyncDir("/"); !errors.Is(err, ErrInjected) {
		t.Fatal(err)
	}
	if fs.Writes() != 4 || fs.Syncs() != 2 {
		t.Fatal(fs.Writes(), fs.Syncs())
	}
	fs.FailWriteAt(-1)
	if _, err := f.WriteAt([]byte("ok"), 0); err != nil {
		t.Fatal(err)
	}
	// Concurrency-safe counting.
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				f.WriteAt([]byte("c"), 0)
			}
		}()
	}
	wg.Wait()
	if fs.Writes() != 805 {
		t.Fatal(fs.Writes())
	}
}

func TestOS(t *testing.T) {
	fs := OS()
	dir := t.TempDir()
	name := filepath.Join(dir, "f")
	f := write(t, fs, name, []byte("hello"), true)
	if n, _ := f.Size(); n != 5 {
		t.Fatal(n)
	}
	if err := f.Truncate(2); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := fs.Rename(name, name+"2"); err != nil {
		t.Fatal(err)
	}
	if err := fs.SyncDir(dir); err != nil {
		t.Fatal(err)
	}
	names, err := fs.ReadDir(dir)
	if err != nil || len(names) != 1 || names[0] != "f2" {
		t.Fatal(names, err)
	}
	if b, _ := contents(t, fs, name+"2"); !bytes.Equal(b, []byte("he")) {
		t.Fatal(b)
	}
	if err := fs.Remove(name + "2"); err != nil {
		t.Fatal(err)
	}
}
