package segment

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/eventd/eventd/segment/vfs"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// testRecord is the record at position pos in every test log: its contents
// follow from pos, so any read can be checked.
func testRecord(pos uint64) Record {
	return Record{
		Position:      pos,
		Version:       pos%7 + 1,
		Timestamp:     1_700_000_000_000_000_000 + int64(pos)*1000,
		SchemaVersion: 1,
		Flags:         uint8(pos % 2),
		AppendIndex:   uint32(pos % 3),
		AppendLen:     3,
		StreamID:      fmt.Sprintf("order-%d", pos%13),
		EventID:       fmt.Sprintf("evt-%08d", pos),
		Type:          "OrderPlaced",
		Metadata:      []byte(`{"by":"test"}`),
		Data:          bytes.Repeat([]byte{byte(pos)}, int(pos%50)+20),
	}
}

func checkRecord(t testing.TB, got *Record, pos uint64) {
	t.Helper()
	want := testRecord(pos)
	if !recordsEqual(got, &want) {
		t.Fatalf("record at position %d:\n got %+v\nwant %+v", pos, *got, want)
	}
}

func recordsEqual(a, b *Record) bool {
	return a.Position == b.Position && a.Version == b.Version && a.Timestamp == b.Timestamp &&
		a.SchemaVersion == b.SchemaVersion && a.Flags == b.Flags && a.AppendIndex == b.AppendIndex &&
		a.AppendLen == b.AppendLen && a.StreamID == b.StreamID && a.EventID == b.EventID &&
		a.Type == b.Type && bytes.Equal(a.Metadata, b.Metadata) && bytes.Equal(a.Data, b.Data)
}

// writeFrames appends frames of perFrame test records each after the log's
// last position, syncing after every frame when sync is set. It returns the
// Loc of every record written, by position.
func writeFrames(t testing.TB, l *Log, frames, perFrame int, sync bool) map[uint64]Loc {
	t.Helper()
	locs := map[uint64]Loc{}
	var b Batch
	for i := 0; i < frames; i++ {
		first := l.LastPosition() + 1
		b.Reset(first)
		rels := make([]uint32, perFrame)
		for j := range perFrame {
			r := testRecord(first + uint64(j))
			rels[j] = b.Add(&r)
		}
		seg, off, err := l.Write(&b)
		if err != nil {
			t.Fatalf("write frame %d: %v", i, err)
		}
		for j, rel := range rels {
			locs[first+uint64(j)] = MakeLoc(seg, off+int64(rel))
		}
		if sync {
			if err := l.Sync(); err != nil {
				t.Fatalf("sync: %v", err)
			}
		}
	}
	return locs
}

// checkLog replays the whole log and checks it holds exactly positions
// 1..last with the test contents, and that ReadRecord agrees.
func checkLog(t testing.TB, l *Log, last uint64) {
	t.Helper()
	if got := l.LastPosition(); got != last {
		t.Fatalf("LastPosition = %d, want %d", got, last)
	}
	want := uint64(1)
	var buf []byte
	err := l.Replay(0, func(r *Record, loc Loc) error {
		if r.Position != want {
			return fmt.Errorf("replay gave position %d, want %d", r.Position, want)
		}
		checkRecord(t, r, want)
		var got Record
		var err error
		got, buf, err = l.ReadRecord(loc, buf)
		if err != nil {
			return fmt.Errorf("ReadRecord(%d): %w", want, err)
		}
		checkRecord(t, &got, want)
		want++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if want-1 != last {
		t.Fatalf("replay ended at %d, want %d", want-1, last)
	}
}

func mustOpen(t testing.TB, fs vfs.FS, dir string, opts Options) *Log {
	t.Helper()
	opts.FS = fs
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	l, err := Open(dir, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return l
}

func mustClose(t testing.TB, l *Log) {
	t.Helper()
	if err := l.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// segPaths lists the segment files of dir.
func segPaths(t testing.TB, fs vfs.FS, dir string) []string {
	t.Helper()
	names, _, err := listSegments(fs, dir)
	if err != nil {
		t.Fatal(err)
	}
	for i := range names {
		names[i] = filepath.Join(dir, names[i])
	}
	return names
}

// readFile and writeFile edit files behind the log's back (the log closed).
func readFile(t testing.TB, fs vfs.FS, path string) []byte {
	t.Helper()
	f, err := fs.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n, _ := f.Size()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, 0); err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	return b
}

func writeFile(t testing.TB, fs vfs.FS, path string, b []byte) {
	t.Helper()
	f, err := fs.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(b, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

// frameOffsets returns the offset of every frame in a segment's bytes.
func frameOffsets(t testing.TB, b []byte) []int64 {
	t.Helper()
	var offs []int64
	off := int64(segHeaderSize)
	for off+frameHeaderSize <= int64(len(b)) {
		h, err := parseFrameHeader(b[off:])
		if err != nil {
			break
		}
		offs = append(offs, off)
		off += h.size()
	}
	return offs
}

func asCorruption(t testing.TB, err error) *CorruptionError {
	t.Helper()
	var ce *CorruptionError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v is not a *CorruptionError", err)
	}
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("error %v does not wrap ErrCorrupt", err)
	}
	return ce
}
