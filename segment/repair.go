package segment

import (
	"io"
	"os"

	"github.com/eventd/eventd/segment/vfs"
)

// The repair path: what Open does with corruption (not a torn tail, which
// recovery cuts by itself) when Options.Repair is set. Without Repair, Open
// fails with the *CorruptionError and touches nothing.
//
// What it keeps: nothing is deleted. The damaged segment is copied whole to
// <name>.broken before it is cut, and every later segment is renamed to
// <name>.broken (they follow the damage, so they cannot be part of the log).
// A segment whose header is bad is renamed to .broken as a whole; if it was
// the first segment, an empty one is created at its first position.
//
// Where it cuts: at the offset recovery reports, res.end of the scan (just
// after the last good frame before the damage), or before the whole segment
// when its header is bad (cut < 0). The last segment left is then recovered
// as the active one, its footer (if any) dropped, so the log goes on from
// the last good frame. A sealed segment whose frames are all good but whose
// whole-file hash does not match is not cut: recoverSealed rewrites its
// footer instead (with VerifyFull).

// repair implements Options.Repair for damage in segs[i]: a .broken copy of
// it, later segments renamed to .broken, and segs[i] cut at cut (dropped
// when cut < 0). It returns the segments left; the last one is then
// recovered as the active segment.
func (l *Log) repair(segs []*segment, i int, cut int64, cerr *CorruptionError) ([]*segment, error) {
	l.lg.Error("segment: repairing log", "file", cerr.File, "offset", cerr.Offset, "cause", cerr.Err, "cut", cut)
	for j := len(segs) - 1; j > i; j-- {
		segs[j].f.Close()
		if err := l.fs.Rename(segs[j].path, segs[j].path+".broken"); err != nil {
			return segs[:j+1], err
		}
		segs = segs[:j]
	}
	s := segs[i]
	if cut < 0 {
		s.f.Close()
		if err := l.fs.Rename(s.path, s.path+".broken"); err != nil {
			return segs[:i], err
		}
		segs = segs[:i]
		if err := l.syncDir(); err != nil {
			return segs, err
		}
		if i == 0 {
			ns, err := l.createSegment(s.firstPos)
			if err != nil {
				return segs, err
			}
			segs = append(segs, ns)
		}
		return segs, nil
	}
	if err := copyFile(l.fs, s.f, s.path+".broken"); err != nil {
		return segs, err
	}
	if err := l.syncDir(); err != nil {
		return segs, err
	}
	if err := s.f.Truncate(cut); err != nil {
		return segs, err
	}
	if err := s.f.Sync(); err != nil {
		return segs, err
	}
	return segs, nil
}

// copyFile copies all of src to a new file dst and syncs it.
func copyFile(fs vfs.FS, src vfs.File, dst string) error {
	size, err := src.Size()
	if err != nil {
		return err
	}
	out, err := fs.OpenFile(dst, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	for off := int64(0); off < size; {
		n, err := src.ReadAt(buf[:min(int64(len(buf)), size-off)], off)
		if n > 0 {
			if _, werr := out.WriteAt(buf[:n], off); werr != nil {
				out.Close()
				return werr
			}
			off += int64(n)
		}
		if err != nil && err != io.EOF {
			out.Close()
			return err
		}
		if n == 0 {
			break
		}
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
