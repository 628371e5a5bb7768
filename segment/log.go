package segment

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"

	"eventd/segment/vfs"
)

// Options configure a Log. The zero value is usable.
type Options struct {
	FS vfs.FS // nil: vfs.OS()
	// SegmentSize is the size at which segments roll (and to which the next
	// one is zero-filled ahead of time); default 256 MiB. A frame that does
	// not fit in a segment of this size gets a segment of its own.
	SegmentSize int64
	// MaxRecordSize bounds one encoded record's payload on write; default
	// 16 MiB, at most the format limit MaxRecordSize.
	MaxRecordSize int
	// VerifyFull checks every frame, record and footer of every sealed
	// segment before Open returns.
	VerifyFull bool
	// Repair: on corruption at Open, keep a .broken copy of the damaged
	// segment (and rename every later one to .broken), cut the log at the
	// last good frame before the damage and go on.
	Repair bool
	Logger *slog.Logger // nil: slog.Default()
	// DisablePrealloc turns off zero-filling the next segment in the
	// background (every roll then creates its segment synchronously). For
	// tests that count I/O calls.
	DisablePrealloc bool
}

const (
	defaultSegmentSize   = 256 << 20
	defaultMaxRecordSize = 16 << 20
	minSegmentSize       = 4 << 10
	maxSegmentSize       = 1 << 39 // offsets in a Loc have 40 bits
)

func (o Options) withDefaults() Options {
	if o.FS == nil {
		o.FS = vfs.OS()
	}
	if o.SegmentSize <= 0 {
		o.SegmentSize = defaultSegmentSize
	}
	o.SegmentSize = min(max(o.SegmentSize, minSegmentSize), maxSegmentSize)
	if o.MaxRecordSize <= 0 {
		o.MaxRecordSize = defaultMaxRecordSize
	}
	o.MaxRecordSize = min(o.MaxRecordSize, MaxRecordSize)
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// SegmentInfo describes one segment file.
type SegmentInfo struct {
	Ordinal  uint32
	FirstPos uint64
	Path     string
	Size     int64 // bytes in use: header and frames (and the footer once sealed)
	Sealed   bool
}

// segment is one open segment file. Only end and sealed change, and only
// for the active (last) segment.
type segment struct {
	ordinal  uint32
	firstPos uint64
	path     string
	f        vfs.File
	end      atomic.Int64 // offset where the frames end: data below it is written
	sealed   atomic.Bool  // has a footer; never changes again
}

// logState is the immutable list of segments readers use. A new one is
// published (never modified) when segments are added or cut.
type logState struct {
	segs []*segment
}

// Log is an append-only log of frames in segment files. See the package
// documentation for who may call what concurrently.
type Log struct {
	dir  string
	fs   vfs.FS
	opts Options
	lg   *slog.Logger

	state   atomic.Pointer[logState] // readers load it; written under mu
	lastPos atomic.Uint64            // last position written (not necessarily synced)

	mu       sync.Mutex // the writer state below; readers never take it
	active   *segment
	writeOff int64         // where the next frame goes in active
	digest   xxhash.Digest // of active's bytes [0, writeOff): the footer's file hash
	dirty    bool          // active has writes not yet synced
	failed   error         // sticky: a write or sync failed, the log takes no more writes
	closed   bool

	pre    *preallocator // nil when disabled
	sealWG sync.WaitGroup
}

// Open opens the log in dir (creating dir and a first segment if needed)
// and recovers it: a torn or zeroed tail of the last segment is cut off and
// zeroed, a non-last segment without a footer is scanned and sealed, and
// with VerifyFull every sealed segment is checked. Damage anywhere but the
// tail fails Open with a *CorruptionError unless opts.Repair.
func Open(dir string, opts Options) (*Log, error) {
	opts = opts.withDefaults()
	l := &Log{dir: dir, fs: opts.FS, opts: opts, lg: opts.Logger}
	if err := l.fs.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	segs, err := l.openSegments()
	if err != nil {
		return nil, err
	}
	if segs, err = l.recover(segs); err != nil {
		for _, s := range segs {
			s.f.Close()
		}
		return nil, err
	}
	l.state.Store(&logState{segs: segs})
	if !opts.DisablePrealloc {
		l.pre = newPreallocator(l.fs, dir, opts.SegmentSize, l.lg)
		l.maybePreallocLocked()
	}
	return l, nil
}

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
		if err := l.fs.SyncDir(l.dir); err != nil {
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
	rd.reset(s.f, size)
	if err := checkHeader(s); err != nil {
		return -1, err
	}
	l.digest.Reset()
	res, err := scanSegment(rd, size, s.firstPos, l.opts.VerifyFull, &l.digest, nil)
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
	case stopZero, stopBad:
		dirtyEnd, validAt, err := inspectTail(rd, res.end, size, res.next)
		if err != nil {
			return 0, err
		}
		if validAt >= 0 || res.intact {
			cause := res.err
			if cause == nil {
				cause = corruptf("zeroed frame header followed by a good frame at offset %d", validAt)
			}
			return res.end, &CorruptionError{File: s.path, Offset: res.end, Err: cause}
		}
		if dirtyEnd > res.end {
			l.lg.Warn("segment: cutting torn tail", "file", s.path, "offset", res.end,
				"bytes", dirtyEnd-res.end, "cause", res.err)
			if err := zeroRange(s.f, res.end, dirtyEnd); err != nil {
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
	res, err := scanSegment(rd, size, s.firstPos, l.opts.VerifyFull, &d, nil)
	if err != nil {
		return 0, err
	}
	corrupt := func(off int64, cause error) (int64, error) {
		return res.end, &CorruptionError{File: s.path, Offset: off, Err: cause}
	}
	if res.stop == stopBad {
		return corrupt(res.end, res.err)
	}
	if res.stop == stopZero {
		if _, validAt, err := inspectTail(rd, res.end, size, res.next); err != nil {
			return 0, err
		} else if validAt >= 0 {
			return corrupt(res.end, corruptf("zeroed frame header followed by a good frame at offset %d", validAt))
		}
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

// writeFooter seals a segment file whose frames end at dataEnd: footer,
// fdatasync, cut the zero tail, sync.
func writeFooter(f vfs.File, dataEnd int64, fileHash uint64) error {
	if _, err := f.WriteAt(appendFooter(nil, dataEnd, fileHash), dataEnd); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Truncate(dataEnd + footerSize); err != nil {
		return err
	}
	return f.Sync()
}

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
		if err := l.fs.SyncDir(l.dir); err != nil {
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
	if err := l.fs.SyncDir(l.dir); err != nil {
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

var zeros = make([]byte, 1<<20)

// zeroRange overwrites [from, to) of f with zeros.
func zeroRange(f vfs.File, from, to int64) error {
	for off := from; off < to; {
		n := min(int64(len(zeros)), to-off)
		if _, err := f.WriteAt(zeros[:n], off); err != nil {
			return err
		}
		off += n
	}
	return nil
}

// createSegment makes the segment whose first position is first and
// returns it open: the preallocated file when one is ready, else a new
// empty one (synchronously). Header, sync, rename to the final name, sync
// the directory.
func (l *Log) createSegment(first uint64) (*segment, error) {
	var f vfs.File
	var tmp string
	if l.pre != nil {
		if p, ok := l.pre.take(); ok {
			f, tmp = p.f, p.path
		}
	}
	if f == nil {
		tmp = filepath.Join(l.dir, "roll.tmp")
		var err error
		if f, err = l.fs.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644); err != nil {
			return nil, err
		}
	}
	path := filepath.Join(l.dir, segName(first))
	err := func() error {
		if _, err := f.WriteAt(appendSegHeader(nil, first), 0); err != nil {
			return err
		}
		if err := f.Sync(); err != nil {
			return err
		}
		if err := l.fs.Rename(tmp, path); err != nil {
			return err
		}
		return l.fs.SyncDir(l.dir)
	}()
	if err != nil {
		f.Close()
		return nil, err
	}
	s := &segment{firstPos: first, path: path, f: f}
	s.end.Store(segHeaderSize)
	return s, nil
}

// LastPosition returns the last position written to the log (0: empty).
// Written is not synced: the engine publishes what readers may see.
func (l *Log) LastPosition() uint64 { return l.lastPos.Load() }

// Write appends the batch as one frame with one WriteAt, rolling to a new
// segment first if the frame (and a footer) would not fit. It returns the
// segment ordinal and the frame's offset in it; record i of the batch is at
// MakeLoc(seg, frameOff+rel_i). The batch's first position must follow
// LastPosition. Writer goroutine only. A failed write or roll is sticky:
// every later Write and Sync returns the same error.
func (l *Log) Write(b *Batch) (seg uint32, frameOff int64, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.closed:
		return 0, 0, ErrClosed
	case l.failed != nil:
		return 0, 0, l.failed
	case b.count == 0:
		return 0, 0, errors.New("segment: empty batch")
	case b.err != nil:
		return 0, 0, b.err
	case b.maxRec > l.opts.MaxRecordSize:
		return 0, 0, fmt.Errorf("%w: %d bytes, limit %d", ErrRecordTooLarge, b.maxRec, l.opts.MaxRecordSize)
	case len(b.buf)-frameHeaderSize > maxFrameLen:
		return 0, 0, fmt.Errorf("segment: batch of %d bytes over the frame limit", len(b.buf))
	case b.firstPos != l.lastPos.Load()+1:
		return 0, 0, fmt.Errorf("segment: batch starts at position %d, log ends at %d", b.firstPos, l.lastPos.Load())
	}
	frame := b.buf
	putFrameHeader(frame, uint32(b.count), b.firstPos)
	if l.writeOff > segHeaderSize && l.writeOff+int64(len(frame))+footerSize > l.opts.SegmentSize {
		if err := l.rollLocked(); err != nil {
			l.failed = fmt.Errorf("segment: roll: %w", err)
			return 0, 0, l.failed
		}
	}
	s := l.active
	if _, err := s.f.WriteAt(frame, l.writeOff); err != nil {
		l.failed = fmt.Errorf("segment: write %s: %w", s.path, err)
		return 0, 0, l.failed
	}
	l.digest.Write(frame)
	frameOff = l.writeOff
	l.writeOff += int64(len(frame))
	l.dirty = true
	s.end.Store(l.writeOff)
	l.lastPos.Store(b.firstPos + uint64(b.count) - 1)
	l.maybePreallocLocked()
	return s.ordinal, frameOff, nil
}

// maybePreallocLocked starts preparing the next segment once the active one
// is a quarter full: early enough to be ready at the roll, late enough that
// a short-lived or little-used log never zero-fills a whole segment.
func (l *Log) maybePreallocLocked() {
	if l.pre != nil && l.writeOff >= l.opts.SegmentSize/4 {
		l.pre.kick()
	}
}

// rollLocked syncs the active segment, makes the next one and starts
// sealing the old one in the background.
func (l *Log) rollLocked() error {
	old := l.active
	if l.dirty {
		if err := old.f.Sync(); err != nil {
			return err
		}
		l.dirty = false
	}
	dataEnd, hash := l.writeOff, l.digest.Sum64()
	s, err := l.createSegment(l.lastPos.Load() + 1)
	if err != nil {
		return err
	}
	st := l.state.Load()
	s.ordinal = uint32(len(st.segs))
	segs := append(st.segs[:len(st.segs):len(st.segs)], s)
	l.state.Store(&logState{segs: segs})
	l.active = s
	l.writeOff = segHeaderSize
	l.digest.Reset()
	l.digest.Write(appendSegHeader(nil, s.firstPos))
	l.sealWG.Add(1)
	go l.seal(old, dataEnd, hash)
	return nil
}

// seal writes the footer of a segment the writer has left (its data is
// already synced). A failure is logged: the segment is sealed at the next
// Open instead.
func (l *Log) seal(s *segment, dataEnd int64, hash uint64) {
	defer l.sealWG.Done()
	if err := writeFooter(s.f, dataEnd, hash); err != nil {
		l.lg.Error("segment: sealing failed; it is retried at the next open", "file", s.path, "err", err)
		return
	}
	s.sealed.Store(true)
}

// Sync makes every written frame durable (fdatasync of the active
// segment). Writer goroutine or the interval syncer; it does not block
// Write while the fsync runs. A failed sync is sticky.
func (l *Log) Sync() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	if l.failed != nil {
		err := l.failed
		l.mu.Unlock()
		return err
	}
	if !l.dirty {
		l.mu.Unlock()
		return nil
	}
	s := l.active
	l.dirty = false
	l.mu.Unlock()
	if err := s.f.Sync(); err != nil {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.failed == nil {
			l.failed = fmt.Errorf("segment: sync %s: %w", s.path, err)
		}
		return l.failed
	}
	return nil
}

// TruncateAfter cuts the log after position pos, which must end a frame (or
// be 0, or the position before a segment's first): later frames are zeroed,
// later segments removed, everything synced. Writer goroutine only; no
// reader may be reading past pos.
func (l *Log) TruncateAfter(pos uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.closed:
		return ErrClosed
	case l.failed != nil:
		return l.failed
	case pos >= l.lastPos.Load():
		return nil
	}
	l.sealWG.Wait()
	segs := l.state.Load().segs
	t := max(sort.Search(len(segs), func(i int) bool { return segs[i].firstPos > pos })-1, 0)
	s := segs[t]
	cut, d, err := frameBoundary(s, pos)
	if err != nil {
		return err
	}
	for j := len(segs) - 1; j > t; j-- {
		segs[j].f.Close()
		if err := l.fs.Remove(segs[j].path); err != nil {
			l.failed = err
			return err
		}
	}
	if t < len(segs)-1 {
		if err := l.fs.SyncDir(l.dir); err != nil {
			l.failed = err
			return err
		}
	}
	if err := l.cutSegment(s, cut); err != nil {
		l.failed = err
		return err
	}
	l.state.Store(&logState{segs: append([]*segment(nil), segs[:t+1]...)})
	l.active = s
	l.writeOff = cut
	l.digest = *d
	l.dirty = false
	l.lastPos.Store(pos)
	return nil
}

// cutSegment makes cut the end of s on disk: a sealed file is truncated
// there (footer gone); an active one has [cut, old end + footer) zeroed.
func (l *Log) cutSegment(s *segment, cut int64) error {
	if s.sealed.Load() {
		if err := s.f.Truncate(cut); err != nil {
			return err
		}
	} else {
		size, err := s.f.Size()
		if err != nil {
			return err
		}
		if err := zeroRange(s.f, cut, min(size, s.end.Load()+footerSize)); err != nil {
			return err
		}
	}
	if err := s.f.Sync(); err != nil {
		return err
	}
	s.sealed.Store(false)
	s.end.Store(cut)
	return nil
}

// frameBoundary finds the offset in s just after the frame that ends at
// pos, and the digest of the file up to there.
func frameBoundary(s *segment, pos uint64) (int64, *xxhash.Digest, error) {
	rd := &seqReader{buf: make([]byte, 1<<20)}
	end := s.end.Load()
	rd.reset(s.f, end)
	d := xxhash.New()
	hb, err := rd.peek(0, segHeaderSize)
	if err != nil {
		return 0, nil, err
	}
	d.Write(hb)
	off := int64(segHeaderSize)
	last := s.firstPos - 1
	for last < pos && off < end {
		fb, err := rd.peek(off, frameHeaderSize)
		if err != nil {
			return 0, nil, err
		}
		h, err := parseFrameHeader(fb)
		if err == nil {
			if fb, err = rd.peek(off, int(h.size())); err != nil {
				return 0, nil, err
			}
			_, _, err = decodeFrame(fb)
		}
		if err != nil {
			return 0, nil, &CorruptionError{File: s.path, Offset: off, Err: err}
		}
		d.Write(fb)
		off += h.size()
		last = h.lastPos()
	}
	if last != pos {
		return 0, nil, fmt.Errorf("segment: cannot truncate after position %d: not the end of a frame", pos)
	}
	return off, d, nil
}

// Close syncs the active segment, stops the background work and closes the
// files. Using the log afterwards returns ErrClosed.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	l.closed = true
	var errs []error
	if l.failed == nil && l.dirty {
		errs = append(errs, l.active.f.Sync())
	}
	l.mu.Unlock()
	if l.pre != nil {
		l.pre.close()
	}
	l.sealWG.Wait()
	for _, s := range l.state.Load().segs {
		errs = append(errs, s.f.Close())
	}
	return errors.Join(errs...)
}
