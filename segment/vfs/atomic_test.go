package vfs

import (
	"errors"
	"io"
	"testing"
)

func TestWriteFileAtomic(t *testing.T) {
	m := NewMem()
	if err := m.MkdirAll("d", 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(s string) func(io.Writer) error {
		return func(w io.Writer) error { _, err := io.WriteString(w, s); return err }
	}
	if err := WriteFileAtomic(m, "d/f", write("first")); err != nil {
		t.Fatal(err)
	}
	if err := WriteFileAtomic(m, "d/f", write("second, longer")); err != nil {
		t.Fatal(err)
	}
	b, err := ReadFile(m, "d/f")
	if err != nil || string(b) != "second, longer" {
		t.Fatalf("got %q, %v", b, err)
	}
	// The rename and the data were synced: a power loss keeps the new file.
	b, err = ReadFile(m.Crash(), "d/f")
	if err != nil || string(b) != "second, longer" {
		t.Fatalf("after a crash: got %q, %v", b, err)
	}
	// A failing writer leaves the old contents in place.
	boom := errors.New("boom")
	if err := WriteFileAtomic(m, "d/f", func(io.Writer) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("want the writer's error, got %v", err)
	}
	if b, _ := ReadFile(m, "d/f"); string(b) != "second, longer" {
		t.Fatalf("a failed write changed the file: %q", b)
	}
}

func TestWriteFileAtomicFaults(t *testing.T) {
	// Whatever write or sync fails, the file holds the old or the new
	// contents after a crash, never a mix.
	for n := int64(0); ; n++ {
		m := NewMem()
		_ = m.MkdirAll("d", 0o755)
		if err := WriteFileAtomic(m, "d/f", func(w io.Writer) error { _, err := io.WriteString(w, "old"); return err }); err != nil {
			t.Fatal(err)
		}
		f := NewFault(m)
		f.FailSyncAt(n)
		err := WriteFileAtomic(f, "d/f", func(w io.Writer) error { _, err := io.WriteString(w, "new contents"); return err })
		b, rerr := ReadFile(m.Crash(), "d/f")
		if rerr != nil || (string(b) != "old" && string(b) != "new contents") {
			t.Fatalf("sync fault %d: after a crash the file holds %q (%v)", n, b, rerr)
		}
		if err == nil {
			if string(b) != "new contents" {
				t.Fatalf("sync fault %d: success reported but a crash lost the new contents", n)
			}
			break
		}
	}
}
