package segment

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/cespare/xxhash/v2"

	"github.com/eventd/eventd/segment/vfs"
)

// parseSegName returns the first position a segment file name carries.
func parseSegName(name string) (uint64, bool) {
	if len(name) != 24 || !strings.HasSuffix(name, ".seg") {
		return 0, false
	}
	for _, c := range name[:20] {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseUint(name[:20], 10, 64)
	return n, err == nil && n > 0
}

// listSegments returns the segment file names in dir in position order and
// the names of leftover temporary files.
func listSegments(fs vfs.FS, dir string) (segs []string, tmps []string, err error) {
	names, err := fs.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	for _, name := range names {
		if strings.HasSuffix(name, ".tmp") {
			tmps = append(tmps, name)
		} else if _, ok := parseSegName(name); ok {
			segs = append(segs, name)
		}
	}
	sort.Strings(segs) // zero-padded: name order is position order
	return segs, tmps, nil
}

func (l *Log) openSegments() ([]*segment, error) {
	names, tmps, err := listSegments(l.fs, l.dir)
	if err != nil {
		return nil, err
	}
	for _, t := range tmps {
		if err := l.fs.Remove(filepath.Join(l.dir, t)); err != nil {
			return nil, err
		}
	}
	if len(tmps) > 0 {
		if err := l.syncDir(); err != nil {
			return nil, err
		}
	}
	if len(names) == 0 {
		s, err := l.createSegment(1)
		if err != nil {
			return nil, err
		}
		return []*segment{s}, nil
	}
	segs := make([]*segment, 0, len(names))
	for i, name := range names {
		first, _ := parseSegName(name)
		path := filepath.Join(l.dir, name)
		f, err := l.fs.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			for _, s := range segs {
				s.f.Close()
			}
			return nil, err
		}
		segs = append(segs, &segment{ordinal: uint32(i), firstPos: first, path: path, f: f})
	}
	return segs, nil
}

// recover checks the segments in order (see Open) and sets up the writer
// state on the last one. It returns the segments that make up the log.
func (l *Log) recover(segs []*segment) ([]*segment, error) {
	rd := &seqReader{}
	for i := 0; i < len(segs); {
		var cut int64
		var err error
		if i == len(segs)-1 {
			if cut, err = l.recoverLast(segs[i], rd); err == nil {
				break
			}
		} else {
			if cut, err = l.recoverSealed(segs[i], segs[i+1].firstPos, rd); err == nil {
				i++
				continue
			}
		}
		var cerr *CorruptionError
		if !errors.As(err, &cerr) || !l.opts.Repair {
			return segs, err
		}
		if segs, err = l.repair(segs, i, cut, cerr); err != nil {
			return segs, err
		}
		i = len(segs) - 1
	}
	return segs, nil
}

// checkHeader reads and checks the segment header of s.
func checkHeader(s *segment) error {
	hb, err := readSmall(s.f, 0, segHeaderSize)
	if err != nil {
		return err
	}
	first, err := decodeSegHeader(hb)
	if err == nil && first != s.firstPos {
		err = corruptf("header says first position %d, file name %d", first, s.firstPos)
	}
	if err != nil {
		return &CorruptionError{File: s.path, Offset: 0, Err: err}
	}
	return nil
}

// recoverLast recovers the active segment: scan its frames, cut a torn or
// zeroed tail (zeroing it on disk), and set up the writer state. On
// corruption it returns the offset to cut at for Repair (-1: the header is
// bad, drop the whole segment).
func (l *Log) recoverLast(s *segment, rd *seqReader) (int64, error) {
	size, err := s.f.Size()
	if err != nil {
		return 0, err
	}
	s.filled = size >= l.opts.SegmentSize
	rd.reset(s.f, size)
	if err := checkHeader(s); err != nil {
		return -1, err
	}
	l.digest.Reset()
	res, err := scanSegment(rd, size, s.firstPos, l.opts.VerifyFull, &l.digest)
	if err != nil {
		return 0, err
	}
	switch res.stop {
	case stopFooter:
		// A sealed segment that became the last (later ones were cut):
		// drop the footer and append after the frames again.
		if err := s.f.Truncate(res.end); err != nil {
			return 0, err
		}
		if err := s.f.Sync(); err != nil {
			return 0, err
		}
		s.filled = false
	case stopZero, stopBad:
		v, err := classifyStop(rd, res, size, true)
		if err != nil {
			return 0, err
		}
		if v.cause != nil {
			return res.end, &CorruptionError{File: s.path, Offset: res.end, Err: v.cause}
		}
		if v.dirtyEnd > res.end {
			l.lg.Warn("segment: cutting torn tail", "file", s.path, "offset", res.end,
				"bytes", v.dirtyEnd-res.end, "cause", res.err)
			if err := zeroRange(s.f, res.end, v.dirtyEnd); err != nil {
				return 0, err
			}
			if err := s.f.Sync(); err != nil {
				return 0, err
			}
		}
	}
	s.end.Store(res.end)
	s.sealed.Store(false)
	l.active = s
	l.writeOff = res.end
	l.lastPos.Store(res.next - 1)
	return 0, nil
}

// recoverSealed checks a segment that is not the last one: its footer (and,
// with VerifyFull, every frame and the whole-file hash). One without a
// valid footer is scanned and sealed now. nextFirst is the next segment's
// first position, which this one's frames must lead up to.
func (l *Log) recoverSealed(s *segment, nextFirst uint64, rd *seqReader) (int64, error) {
	size, err := s.f.Size()
	if err != nil {
		return 0, err
	}
	rd.reset(s.f, size)
	if err := checkHeader(s); err != nil {
		return -1, err
	}
	ft, ferr := readFooter(s.f, size)
	if ferr == nil && !l.opts.VerifyFull {
		s.end.Store(ft.DataEnd)
		s.sealed.Store(true)
		return 0, nil
	}
	var d xxhash.Digest
	res, err := scanSegment(rd, size, s.firstPos, l.opts.VerifyFull, &d)
	if err != nil {
		return 0, err
	}
	corrupt := func(off int64, cause error) (int64, error) {
		return res.end, &CorruptionError{File: s.path, Offset: off, Err: cause}
	}
	// Not the last segment: a bad frame is corruption outright, a zeroed
	// one only when a good frame follows it.
	if v, err := classifyStop(rd, res, size, false); err != nil {
		return 0, err
	} else if v.cause != nil {
		return corrupt(res.end, v.cause)
	}
	if res.next != nextFirst {
		return corrupt(res.end, corruptf("frames end before position %d but the next segment starts at %d", res.next, nextFirst))
	}
	if ferr == nil { // VerifyFull of a sealed segment
		switch {
		case res.end != ft.DataEnd:
			return corrupt(res.end, corruptf("frames end at %d, footer says %d", res.end, ft.DataEnd))
		case d.Sum64() != ft.FileHash && !l.opts.Repair:
			return corrupt(ft.DataEnd, corruptf("whole-file checksum mismatch"))
		case d.Sum64() == ft.FileHash:
			s.end.Store(ft.DataEnd)
			s.sealed.Store(true)
			return 0, nil
		}
		l.lg.Warn("segment: rewriting footer with bad file checksum (every frame is good)", "file", s.path)
	} else {
		l.lg.Info("segment: sealing segment found without footer", "file", s.path, "cause", ferr)
	}
	if err := writeFooter(s.f, res.end, d.Sum64()); err != nil {
		return 0, err
	}
	s.end.Store(res.end)
	s.sealed.Store(true)
	return 0, nil
}

// readFooter reads the footer at the end of a file of the given size; it
// must say that the data ends right before it.
func readFooter(f vfs.File, size int64) (footer, error) {
	if size < segHeaderSize+footerSize {
		return footer{}, corruptf("no footer: file is %d bytes", size)
	}
	b, err := readSmall(f, size-footerSize, footerSize)
	if err != nil {
		return footer{}, err
	}
	ft, err := decodeFooter(b)
	if err == nil && ft.DataEnd != size-footerSize {
		err = corruptf("footer data end %d, footer at %d", ft.DataEnd, size-footerSize)
	}
	return ft, err
}

// readSmall reads up to n bytes at off (fewer at the end of the file).
func readSmall(f vfs.File, off int64, n int) ([]byte, error) {
	b := make([]byte, n)
	k, err := f.ReadAt(b, off)
	if err == io.EOF {
		err = nil
	}
	return b[:k], err
}
