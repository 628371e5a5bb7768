package segment

import (
	"os"
	"path/filepath"

	"github.com/cespare/xxhash/v2"
)

// Report is the result of Verify.
type Report struct {
	Segments      int
	Frames        int
	Records       int
	FirstPosition uint64 // 0 when the log is empty
	LastPosition  uint64
	Bytes         int64 // size of all segment files
	// TornTail is the number of bytes after the last good frame of the last
	// segment that Open would cut off (0: a clean end).
	TornTail int64
	// Problems lists every damage found, in file order.
	Problems []*CorruptionError
}

// OK reports whether no problem was found.
func (r *Report) OK() bool { return len(r.Problems) == 0 }

// Verify checks every segment, frame and record of the log in dir offline
// (read-only, the log must not be open): headers, frame and record
// checksums, positions, footers and whole-file hashes. Damage goes into the
// report; the error is for what stops the check itself (I/O).
func Verify(dir string, opts Options) (Report, error) {
	opts = opts.withDefaults()
	var rep Report
	names, _, err := listSegments(opts.FS, dir)
	if err != nil {
		return rep, err
	}
	rd := &seqReader{}
	next := uint64(0) // position the next segment should start at (0: unknown)
	for i, name := range names {
		path := filepath.Join(dir, name)
		first, _ := parseSegName(name)
		last := i == len(names)-1
		f, err := opts.FS.OpenFile(path, os.O_RDONLY, 0)
		if err != nil {
			return rep, err
		}
		s := &segment{firstPos: first, path: path, f: f}
		problems := len(rep.Problems)
		err = verifySegment(&rep, rd, s, last, next)
		f.Close()
		if err != nil {
			return rep, err
		}
		rep.Segments++
		next = rep.LastPosition + 1
		if rep.LastPosition == 0 || len(rep.Problems) > problems {
			next = 0 // unknown: do not report the same damage twice
		}
	}
	return rep, nil
}

func verifySegment(rep *Report, rd *seqReader, s *segment, last bool, next uint64) error {
	size, err := s.f.Size()
	if err != nil {
		return err
	}
	rep.Bytes += size
	rd.reset(s.f, size)
	problem := func(off int64, err error) {
		rep.Problems = append(rep.Problems, &CorruptionError{File: s.path, Offset: off, Err: err})
	}
	if err := checkHeader(s); err != nil {
		rep.Problems = append(rep.Problems, err.(*CorruptionError))
		return nil
	}
	if next != 0 && s.firstPos != next {
		problem(0, corruptf("segment starts at position %d, the previous one ends before %d", s.firstPos, next))
	}
	ft, ferr := readFooter(s.f, size)
	if ferr != nil && !last {
		problem(max(size-footerSize, 0), ferr)
	}
	var d xxhash.Digest
	res, err := scanSegment(rd, size, s.firstPos, true, &d)
	if err != nil {
		return err
	}
	rep.Frames += res.frames
	rep.Records += res.records
	if res.records > 0 {
		if rep.FirstPosition == 0 {
			rep.FirstPosition = s.firstPos
		}
		rep.LastPosition = res.next - 1
	}
	v, err := classifyStop(rd, res, size, last)
	if err != nil {
		return err
	}
	if v.cause != nil {
		problem(res.end, v.cause)
	} else if last {
		rep.TornTail = v.dirtyEnd - res.end // 0 on a clean end
	}
	if ferr == nil && res.stop != stopBad {
		if res.end != ft.DataEnd {
			problem(res.end, corruptf("frames end at %d, footer says %d", res.end, ft.DataEnd))
		} else if d.Sum64() != ft.FileHash {
			problem(ft.DataEnd, corruptf("whole-file checksum mismatch"))
		}
	}
	return nil
}
