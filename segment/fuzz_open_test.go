package segment

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"

	"github.com/eventd/eventd/segment/vfs"
)

// fuzzLog is a small valid log (one record per frame, several segments,
// the last one active), kept as file name → bytes, with where each
// record's frame lies.
type fuzzLog struct {
	names  []string
	files  map[string][]byte
	frames map[uint64]fuzzSpan // by position
	last   uint64
}

type fuzzSpan struct {
	file     string
	from, to int64 // the frame's bytes: header and record
}

var fuzzLogOnce = sync.OnceValues(buildFuzzLog)

func buildFuzzLog() (*fuzzLog, error) {
	mem := vfs.NewMem()
	opts := Options{FS: mem, SegmentSize: 4 << 10, DisablePrealloc: true, Logger: quiet}
	l, err := Open("/log", opts)
	if err != nil {
		return nil, err
	}
	var b Batch
	for i := 0; i < 80; i++ {
		first := l.LastPosition() + 1
		b.Reset(first)
		r := testRecord(first)
		b.Add(&r)
		if _, _, err := l.Write(&b); err != nil {
			return nil, err
		}
		if err := l.Sync(); err != nil {
			return nil, err
		}
	}
	fl := &fuzzLog{files: map[string][]byte{}, frames: map[uint64]fuzzSpan{}, last: l.LastPosition()}
	segs := l.Segments()
	err = l.Replay(0, func(r *Record, loc Loc) error {
		s := segs[loc>>locOffsetBits]
		off := int64(loc & (1<<locOffsetBits - 1))
		fl.frames[r.Position] = fuzzSpan{filepath.Base(s.Path), off - frameHeaderSize, off + int64(RecordSize(r))}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := l.Close(); err != nil {
		return nil, err
	}
	names, err := mem.ReadDir("/log")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		b, err := vfs.ReadFile(mem, "/log/"+n)
		if err != nil {
			return nil, err
		}
		fl.files[n] = b
		fl.names = append(fl.names, n)
	}
	sort.Strings(fl.names)
	if len(fl.names) < 3 {
		return nil, fmt.Errorf("the fuzz log has %d segments, want 3 or more", len(fl.names))
	}
	return fl, nil
}

func writeMemFile(fs vfs.FS, name string, b []byte) error {
	f, err := fs.OpenFile(name, os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteAt(b, 0)
	return errors.Join(err, f.Sync(), f.Close())
}

// FuzzOpenDamaged damages a valid log — bytes written over one segment at
// some offset, and/or the segment cut short — and opens it, as recovery
// after a crash or a bad disk would. Open must never panic; it fails with
// ErrCorrupt, or it opens a log whose records are exactly the original
// ones at positions 1..k with nothing invented or altered, and it may cut
// a record only if that record's frame, or a frame before it, was damaged
// (an intact acknowledged frame is never dropped silently: a cut in front
// of one is corruption). full selects --verify-on-start=full; without it a
// damaged sealed segment may open, and reading it then fails with
// ErrCorrupt.
func FuzzOpenDamaged(f *testing.F) {
	f.Add(uint8(255), uint16(0), []byte{}, uint16(0), false)       // untouched
	f.Add(uint8(255), uint16(900), []byte{0xff}, uint16(0), false) // last segment, a byte
	f.Add(uint8(255), uint16(0), []byte{}, uint16(40), false)      // last segment torn
	f.Add(uint8(0), uint16(100), []byte{1, 2, 3}, uint16(0), true) // a sealed segment
	f.Add(uint8(0), uint16(0), []byte("EVTDFTR\x00"), uint16(0), false)
	f.Fuzz(func(t *testing.T, file uint8, off uint16, patch []byte, cut uint16, full bool) {
		fl, err := fuzzLogOnce()
		if err != nil {
			t.Fatal(err)
		}
		name := fl.names[min(int(file), len(fl.names)-1)]
		mem := vfs.NewMem()
		if err := mem.MkdirAll("/log", 0o755); err != nil {
			t.Fatal(err)
		}
		var dmgFrom, dmgTo int64 = -1, -1 // damaged bytes of name, [from, to)
		for _, n := range fl.names {
			b := append([]byte(nil), fl.files[n]...)
			if n == name {
				if len(patch) > 0 {
					o := int64(off) % int64(len(b)+1)
					if end := o + int64(len(patch)); end > int64(len(b)) {
						b = append(b, make([]byte, end-int64(len(b)))...)
					}
					copy(b[o:], patch)
					dmgFrom, dmgTo = o, o+int64(len(patch))
				}
				if c := int64(cut) % int64(len(b)); c > 0 {
					b = b[:int64(len(b))-c]
					if dmgFrom < 0 || int64(len(b)) < dmgFrom {
						dmgFrom = int64(len(b))
					}
					dmgTo = 1 << 62
				}
			}
			if err := writeMemFile(mem, "/log/"+n, b); err != nil {
				t.Fatal(err)
			}
		}
		if err := mem.SyncDir("/log"); err != nil {
			t.Fatal(err)
		}
		l, err := Open("/log", Options{FS: mem, SegmentSize: 4 << 10, DisablePrealloc: true, VerifyFull: full, Logger: quiet})
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Open: %v does not wrap ErrCorrupt", err)
			}
			return
		}
		defer l.Close()
		var k uint64
		err = l.Replay(0, func(r *Record, _ Loc) error {
			if r.Position != k+1 {
				return fmt.Errorf("position %d after %d", r.Position, k)
			}
			if want := testRecord(r.Position); !recordsEqual(r, &want) {
				return fmt.Errorf("record %d was altered: %+v", r.Position, *r)
			}
			k++
			return nil
		})
		if err != nil {
			// With --verify-on-start=tail, sealed segments are checked in the
			// background, not at Open: reading a damaged one reports the
			// corruption (never wrong data). Full verification finds it first.
			if full || name == fl.names[len(fl.names)-1] || !errors.Is(err, ErrCorrupt) {
				t.Fatalf("replay of the opened log (damage in %s [%d,%d)): %v", name, dmgFrom, dmgTo, err)
			}
			return
		}
		if k != l.LastPosition() || k > fl.last {
			t.Fatalf("replayed %d records, LastPosition %d, the log had %d", k, l.LastPosition(), fl.last)
		}
		// Records after the cut: the first one's frame must have been damaged.
		if k < fl.last {
			s := fl.frames[k+1]
			if s.file != name || dmgTo <= s.from || dmgFrom >= s.to {
				t.Fatalf("opened with %d of %d records, but the frame of record %d (%s [%d,%d)) is intact (damage in %s [%d,%d))",
					k, fl.last, k+1, s.file, s.from, s.to, name, dmgFrom, dmgTo)
			}
		}
	})
}
