package segment

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/eventd/eventd/segment/vfs"
)

// TestClassifyStop checks the torn-tail rule in the one place it lives.
func TestClassifyStop(t *testing.T) {
	type want struct {
		stop    stopReason
		corrupt bool   // a cause, else a torn tail or clean end
		msg     string // in the cause, when corrupt
		dirty   bool   // dirtyEnd past res.end, when not corrupt
	}
	tests := []struct {
		name   string
		damage func(b []byte, offs []int64) []byte
		last   bool
		want   want
	}{
		{"clean end", func(b []byte, _ []int64) []byte { return b }, true, want{stop: stopEOF}},
		{"zeroed tail", func(b []byte, offs []int64) []byte { clear(b[offs[4]:]); return b }, true, want{stop: stopZero}},
		{"torn last frame", func(b []byte, offs []int64) []byte { b[offs[4]+frameHeaderSize+3] ^= 4; return b }, true,
			want{stop: stopBad, dirty: true}},
		{"bad frame, good one after", func(b []byte, offs []int64) []byte { b[offs[2]+frameHeaderSize+3] ^= 4; return b }, true,
			want{stop: stopBad, corrupt: true, msg: "checksum mismatch"}},
		{"zeroed header, good one after", func(b []byte, offs []int64) []byte { clear(b[offs[2] : offs[2]+frameHeaderSize]); return b }, true,
			want{stop: stopZero, corrupt: true, msg: "zeroed frame header followed by a good frame"}},
		{"zeroed header, good one after, not last", func(b []byte, offs []int64) []byte { clear(b[offs[2] : offs[2]+frameHeaderSize]); return b }, false,
			want{stop: stopZero, corrupt: true, msg: "zeroed frame header followed by a good frame"}},
		{"zeroed tail, not last", func(b []byte, offs []int64) []byte { clear(b[offs[4]:]); return b }, false, want{stop: stopZero}},
		{"intact last frame, wrong position", func(b []byte, offs []int64) []byte {
			off := offs[4]
			binary.LittleEndian.PutUint64(b[off+8:], 100)
			binary.LittleEndian.PutUint64(b[off+24:], frameChecksum(b[off:off+24], b[off+frameHeaderSize:]))
			return b
		}, true, want{stop: stopBad, corrupt: true, msg: "position"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fs, path := oneSegmentLog(t, 5)
			b := readFile(t, fs, path)
			b = tc.damage(b, frameOffsets(t, b))
			writeFile(t, fs, path, b)
			rd, res, size := scanFile(t, fs, path)
			if res.stop != tc.want.stop {
				t.Fatalf("stop = %d, want %d", res.stop, tc.want.stop)
			}
			v, err := classifyStop(rd, res, size, tc.last)
			if err != nil {
				t.Fatal(err)
			}
			if (v.cause != nil) != tc.want.corrupt {
				t.Fatalf("cause = %v, want corrupt %v", v.cause, tc.want.corrupt)
			}
			if v.cause != nil {
				if !errors.Is(v.cause, ErrCorrupt) || !strings.Contains(v.cause.Error(), tc.want.msg) {
					t.Fatalf("cause = %v, want %q wrapping ErrCorrupt", v.cause, tc.want.msg)
				}
			} else if (v.dirtyEnd > res.end) != tc.want.dirty {
				t.Fatalf("dirtyEnd = %d, end %d, want dirty %v", v.dirtyEnd, res.end, tc.want.dirty)
			}
		})
	}
}

// TestClassifyStopBadNotLast: a bad frame outside the last segment is
// corruption outright, without reading what follows it.
func TestClassifyStopBadNotLast(t *testing.T) {
	cause := corruptf("frame checksum mismatch")
	res := scanResult{end: 100, next: 7, stop: stopBad, err: cause}
	rd := &seqReader{size: 1 << 20} // no file: any read would panic
	v, err := classifyStop(rd, res, 1<<20, false)
	if err != nil || v.cause != cause || v.dirtyEnd != res.end {
		t.Fatalf("classifyStop = %+v, %v", v, err)
	}
}

// TestZeroedHeaderInUnsealedSegment: a non-last segment without a footer
// and with a zeroed frame header before good frames: Open and Verify both
// report the zeroed header, at its offset.
func TestZeroedHeaderInUnsealedSegment(t *testing.T) {
	fs := vfs.NewMem()
	rolledLog(t, fs, "/log", 3)
	path := segPaths(t, fs, "/log")[0]
	b := readFile(t, fs, path)
	b = b[:len(b)-footerSize] // a crash before the seal
	off := frameOffsets(t, b)[1]
	clear(b[off : off+frameHeaderSize])
	writeFile(t, fs, path, b)
	const msg = "zeroed frame header followed by a good frame"
	_, err := Open("/log", Options{FS: fs, Logger: quiet, DisablePrealloc: true})
	if ce := asCorruption(t, err); ce.File != path || ce.Offset != off || !strings.Contains(ce.Err.Error(), msg) {
		t.Fatalf("Open: %v, want %s at %s:%d", err, msg, path, off)
	}
	rep, err := Verify("/log", Options{FS: fs})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, p := range rep.Problems {
		found = found || (p.File == path && p.Offset == off && strings.Contains(p.Err.Error(), msg))
	}
	if !found {
		t.Fatalf("Verify problems %v, want %s at %s:%d", rep.Problems, msg, path, off)
	}
}

// scanFile scans the frames of the segment file at path.
func scanFile(t *testing.T, fs vfs.FS, path string) (*seqReader, scanResult, int64) {
	t.Helper()
	f, err := fs.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	size, err := f.Size()
	if err != nil {
		t.Fatal(err)
	}
	first, _ := parseSegName(filepath.Base(path))
	rd := &seqReader{}
	rd.reset(f, size)
	res, err := scanSegment(rd, size, first, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	return rd, res, size
}
