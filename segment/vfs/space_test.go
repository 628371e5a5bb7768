package vfs

import (
	"errors"
	"io"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// A Mem with a capacity fills up like a disk: a write that passes it is
// short and fails with ENOSPC, Space reports what is left, and removing a
// file gives its space back.
func TestMemCapacity(t *testing.T) {
	m := NewMem()
	if _, err := m.Space("/"); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("Space without a capacity: %v", err)
	}
	m.SetCapacity(100)
	a := write(t, m, "/a", make([]byte, 60), false)
	if sp, err := m.Space("/"); err != nil || sp != (Space{Total: 100, Free: 40}) {
		t.Fatalf("Space: %+v %v", sp, err)
	}
	b, err := m.OpenFile("/b", os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	n, err := b.WriteAt([]byte(strings.Repeat("x", 50)), 0)
	if n != 40 || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("write past the capacity: %d, %v", n, err)
	}
	var pe *os.PathError
	if !errors.As(err, &pe) || pe.Path != "/b" {
		t.Fatalf("the error does not name the file: %v", err)
	}
	// Overwriting bytes a file has needs no space.
	if _, err := a.WriteAt([]byte("overwrite"), 10); err != nil {
		t.Fatal(err)
	}
	if _, err := b.WriteAt([]byte("y"), 40); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("write on a full disk: %v", err)
	}
	if err := m.Remove("/a"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.WriteAt([]byte("y"), 40); err != nil {
		t.Fatalf("write after a remove gave space back: %v", err)
	}
	if sp, _ := m.Space("/"); sp.Free != 59 {
		t.Fatalf("free after the remove: %d", sp.Free)
	}
	if sp, _ := m.Crash().Space("/"); sp.Total != 100 {
		t.Fatal("Crash lost the capacity")
	}
}

func TestFaultErrnos(t *testing.T) {
	m := NewMem()
	fs := NewFault(m)
	fs.FailOpenAt(1, syscall.EMFILE)
	f, err := fs.OpenFile("/f", os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	_, err = fs.OpenFile("/g", os.O_RDWR|os.O_CREATE, 0o644)
	var pe *os.PathError
	if !errors.Is(err, syscall.EMFILE) || !errors.As(err, &pe) || pe.Path != "/g" || fs.Opens() != 2 {
		t.Fatalf("open 1: %v (opens %d)", err, fs.Opens())
	}
	if _, err := m.OpenFile("/g", os.O_RDONLY, 0); !IsNotExist(err) {
		t.Fatalf("a failed open created the file: %v", err)
	}
	fs.FailOpenAt(-1, nil)
	if _, err := fs.OpenFile("/g", os.O_RDWR|os.O_CREATE, 0o644); err != nil {
		t.Fatal(err)
	}

	fs.FailWriteWith(fs.Writes(), syscall.ENOSPC)
	if n, err := f.WriteAt([]byte("abcd"), 0); n != 2 || !errors.Is(err, syscall.ENOSPC) || !errors.As(err, &pe) || pe.Path != "/f" {
		t.Fatalf("write: %d %v", n, err)
	}
	fs.FailWriteAt(-1)
	fs.FailSyncWith(fs.Syncs(), syscall.EIO)
	if err := f.Sync(); !errors.Is(err, syscall.EIO) {
		t.Fatalf("sync: %v", err)
	}
	if err := fs.SyncDir("/"); !errors.Is(err, syscall.EIO) {
		t.Fatalf("syncdir: %v", err)
	}
	fs.FailSyncAt(fs.Syncs())
	if err := f.Sync(); err != ErrInjected {
		t.Fatalf("FailSyncAt after FailSyncWith: %v, want ErrInjected", err)
	}

	// Space: faked, else the inner FS's.
	if _, err := fs.Space("/"); !errors.Is(err, errors.ErrUnsupported) {
		t.Fatalf("Space of a Mem without capacity: %v", err)
	}
	fs.SetSpace(1000, 10)
	if sp, err := DiskSpace(fs, "/"); err != nil || sp != (Space{Total: 1000, Free: 10}) {
		t.Fatalf("faked space: %+v %v", sp, err)
	}
	m.SetCapacity(500)
	fs.SetSpace(0, 0)
	if sp, err := DiskSpace(fs, "/"); err != nil || sp.Total != 500 {
		t.Fatalf("inner space: %+v %v", sp, err)
	}
}

func TestOSSpace(t *testing.T) {
	sp, err := DiskSpace(OS(), t.TempDir())
	if runtime.GOOS != "linux" {
		if !errors.Is(err, errors.ErrUnsupported) {
			t.Fatalf("off Linux: %v", err)
		}
		return
	}
	if err != nil || sp.Total <= 0 || sp.Free < 0 || sp.Free > sp.Total {
		t.Fatalf("statfs: %+v %v", sp, err)
	}
}

// A WriteFileAtomic that fails (a full disk) removes its temp file: the
// space goes back.
func TestWriteFileAtomicRemovesTempOnError(t *testing.T) {
	m := NewMem()
	m.SetCapacity(1 << 10)
	err := WriteFileAtomic(m, "/f", func(w io.Writer) error {
		_, err := w.Write(make([]byte, 4<<10))
		return err
	})
	if !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("got %v, want ENOSPC", err)
	}
	if files := m.Files(); len(files) != 0 {
		t.Fatalf("left behind: %v", files)
	}
}
