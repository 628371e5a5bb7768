package segment

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/eventd/eventd/segment/vfs"
)

// go test ./segment -run Golden -update rewrites the golden segment and the
// committed fuzz seed corpus. Do it only on purpose: a changed golden file
// means the on-disk format changed.
var update = flag.Bool("update", false, "rewrite testdata/segment/golden.seg and the fuzz seed corpus")

const goldenPath = "../testdata/segment/golden.seg"

// goldenSegment builds a sealed segment from fixed records: 4 frames of 1,
// 2, 3 and 4 records, sealed by the roll that a fifth, oversized frame
// causes. The bytes are the log's own: header, frames, and the footer the
// background seal wrote from the running digest.
func goldenSegment(t *testing.T) []byte {
	t.Helper()
	fs := vfs.NewMem()
	l := mustOpen(t, fs, "/log", Options{SegmentSize: minSegmentSize, DisablePrealloc: true})
	for n := 1; n <= 4; n++ {
		writeFrames(t, l, 1, n, false)
	}
	var b Batch
	b.Reset(11)
	b.Add(&Record{Position: 11, StreamID: "big", Data: make([]byte, minSegmentSize)})
	if seg, _, err := l.Write(&b); err != nil || seg != 1 {
		t.Fatalf("fifth frame in segment %d (%v), want 1", seg, err)
	}
	mustClose(t, l) // waits for the seal
	return readFile(t, fs, "/log/"+segName(1))
}

func TestGolden(t *testing.T) {
	got := goldenSegment(t)
	if *update {
		if err := os.MkdirAll(filepath.Dir(goldenPath), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenPath, got, 0o644); err != nil {
			t.Fatal(err)
		}
		writeFuzzSeeds(t)
	}
	want, err := os.ReadFile(goldenPath)
	if err != nil {
		t.Fatalf("%v (run go test ./segment -run Golden -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		t.Fatalf("segment bytes differ from %s at offset %d (len %d, golden %d): the on-disk format changed",
			goldenPath, i, len(got), len(want))
	}

	// The golden file is a valid sealed segment: Verify passes and a log
	// made of it replays the ten records.
	fs := vfs.NewMem()
	if err := fs.MkdirAll("/g", 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, fs, "/g/"+segName(1), want)
	rep, err := Verify("/g", Options{FS: fs})
	if err != nil || !rep.OK() || rep.Records != 10 || rep.Frames != 4 || rep.LastPosition != 10 {
		t.Fatalf("Verify: %+v %v", rep, err)
	}
	l := mustOpen(t, fs, "/g", Options{})
	defer mustClose(t, l)
	checkLog(t, l, 10)
}

// writeFuzzSeeds writes the committed seed corpus in Go's corpus format.
func writeFuzzSeeds(t *testing.T) {
	frame := testFrame(1, 3)
	torn := bytes.Clone(frame[:len(frame)-5])
	flipped := bytes.Clone(frame)
	flipped[40] ^= 1
	rec := testRecord(9)
	seeds := map[string]map[string][]byte{
		"FuzzDecodeFrame": {
			"valid":   frame,
			"single":  testFrame(77, 1),
			"torn":    torn,
			"flipped": flipped,
			"zeroed":  make([]byte, 48),
		},
		"FuzzDecodeRecord": {
			"valid":     AppendRecord(nil, &rec),
			"empty":     AppendRecord(nil, &Record{Position: 1}),
			"truncated": AppendRecord(nil, &rec)[:20],
		},
	}
	for target, m := range seeds {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, b := range m {
			body := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", b)
			if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
