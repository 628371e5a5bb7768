package index

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"

	"github.com/cespare/xxhash/v2"
	"github.com/google/btree"
)

var (
	// ErrCorruptCheckpoint is returned by ReadCheckpoint for a checkpoint
	// that is truncated, fails its checksum or is inconsistent. The caller
	// rebuilds the index from the log instead.
	ErrCorruptCheckpoint = errors.New("index: corrupt checkpoint")
	// ErrCheckpointVersion is returned by ReadCheckpoint for a checkpoint
	// written in a format version this build does not read.
	ErrCheckpointVersion = errors.New("index: unsupported checkpoint version")
)

// Checkpoint format, version 1. All integers are little-endian; the
// constants below are part of the format.
//
//	+------------------------------------------------------------------+
//	| header, 64 bytes                                                 |
//	|   magic     [8]byte  "EVDINDEX"                                  |
//	|   version   u32      1                                           |
//	|   flags     u32      bit 0: positions are u64 (set iff head >=   |
//	|                      2^32); else u32. Other bits zero.           |
//	|   head      u64      the checkpoint covers positions 1..head     |
//	|   streams   u64      number of stream records                    |
//	|   runs      u64      number of run records                       |
//	|   idBytes   u64      Σ length of the stream ids                  |
//	|   extraLen  u64      length of the caller's extra bytes          |
//	|   reserved  u64      0                                           |
//	+------------------------------------------------------------------+
//	| runs × { first u64, hi u64 }      Loc high bits per run of       |
//	|                                   positions (see loctable.go)    |
//	+------------------------------------------------------------------+
//	| head × u32                        low 32 bits of the Loc of      |
//	|                                   positions 1, 2, …, head        |
//	+------------------------------------------------------------------+
//	| streams × {                       in ascending id order          |
//	|   idLen     u32                                                  |
//	|   count     u64                   version (>= 1)                 |
//	|   createdAt i64                   unix ns                        |
//	|   updatedAt i64                   unix ns                        |
//	|   id        [idLen]byte                                          |
//	|   positions count × (u32 | u64)   ascending                      |
//	| }                                                                |
//	+------------------------------------------------------------------+
//	| extra     [extraLen]byte          opaque, for the caller         |
//	+------------------------------------------------------------------+
//	| checksum  u64                     xxh64 of every byte above      |
//	+------------------------------------------------------------------+
//
// The arrays are raw so both sides are bulk loops. ReadCheckpoint accepts
// only what WriteCheckpoint writes: exact total size, runs starting at 1
// and strictly increasing with distinct adjacent hi, ids strictly
// increasing, every stream's positions strictly increasing and the
// streams together holding each of 1..head exactly once.
const (
	ckptMagic      = "EVDINDEX"
	ckptVersion    = 1
	ckptHeaderSize = 64
	ckptRunSize    = 16
	ckptStreamHdr  = 4 + 8 + 8 + 8
	ckptSumSize    = 8
	ckptFlagWide   = 1 // positions stored as u64
)

// wideAbove: a checkpoint whose head is above it stores positions as u64
// (part of the format; a variable only so tests can cover the u64 layout).
var wideAbove uint64 = math.MaxUint32

// frozenView is what a checkpoint encodes: the index at one head, taken
// under the write lock (a tree clone and copies of the Loc table's headers)
// and read without it.
type frozenView struct {
	head    uint64
	tree    *btree.BTreeG[*stream]
	runs    []run
	chunks  [][]uint32
	idBytes uint64
}

// WriteCheckpoint writes a checkpoint of the index at its Head() at the
// time of the call, with extra (opaque bytes for the caller) inside it. It
// holds the write lock only to clone the tree (copy-on-write) and copy the
// Loc table's headers; the encoding runs unlocked while the writer goes on.
// Safe for concurrent use; w is written with large buffers.
func (ix *Index) WriteCheckpoint(w io.Writer, extra []byte) error {
	ix.mu.Lock()
	view := frozenView{
		head:    ix.head.Load(),
		tree:    ix.tree.Clone(),
		runs:    slices.Clone(ix.locs.runs),
		chunks:  slices.Clone(ix.locs.chunks),
		idBytes: uint64(ix.idBytes),
	}
	ix.cpGen++ // objects of an older generation may be shared with view.tree
	ix.checkpointsActive++
	ix.mu.Unlock()
	defer func() {
		ix.mu.Lock()
		ix.checkpointsActive--
		ix.mu.Unlock()
	}()
	return view.encode(w, extra)
}

func (fv *frozenView) encode(w io.Writer, extra []byte) error {
	e := encoder{w: w, h: xxhash.New(), buf: make([]byte, 0, encBufSize)}
	wide := fv.head > wideAbove
	var flags uint32
	if wide {
		flags |= ckptFlagWide
	}
	e.str(ckptMagic)
	e.u32(ckptVersion)
	e.u32(flags)
	e.u64(fv.head)
	e.u64(uint64(fv.tree.Len()))
	e.u64(uint64(len(fv.runs)))
	e.u64(fv.idBytes)
	e.u64(uint64(len(extra)))
	e.u64(0)
	for _, r := range fv.runs {
		e.u64(r.first)
		e.u64(r.hi)
	}
	for left, c := fv.head, 0; left > 0; c++ {
		k := min(left, chunkSize)
		putInts(&e, fv.chunks[c][:k], 4)
		left -= k
	}
	var total uint64
	fv.tree.Ascend(func(s *stream) bool {
		p := s.positions
		total += uint64(len(p))
		e.u32(uint32(len(s.id)))
		e.u64(uint64(len(p)))
		e.u64(uint64(s.createdAt))
		e.u64(uint64(s.updatedAt))
		e.str(s.id)
		if wide {
			putInts(&e, p, 8)
		} else {
			putInts(&e, p, 4)
		}
		return e.err == nil
	})
	if e.err == nil && total != fv.head {
		return fmt.Errorf("index: internal error: streams hold %d positions, head is %d", total, fv.head)
	}
	e.bytes(extra)
	e.flush()
	if e.err != nil {
		return e.err
	}
	var sum [8]byte
	binary.LittleEndian.PutUint64(sum[:], e.h.Sum64())
	_, err := w.Write(sum[:])
	return err
}

const encBufSize = 256 << 10

// encoder buffers the checkpoint, hashing each buffer as it is written.
type encoder struct {
	w   io.Writer
	h   *xxhash.Digest
	buf []byte
	err error
}

func (e *encoder) flush() {
	if e.err == nil && len(e.buf) > 0 {
		_, _ = e.h.Write(e.buf)
		_, e.err = e.w.Write(e.buf)
	}
	e.buf = e.buf[:0]
}

// room makes room for n <= encBufSize bytes.
func (e *encoder) room(n int) {
	if cap(e.buf)-len(e.buf) < n {
		e.flush()
	}
}

func (e *encoder) u32(v uint32) {
	e.room(4)
	e.buf = binary.LittleEndian.AppendUint32(e.buf, v)
}

func (e *encoder) u64(v uint64) {
	e.room(8)
	e.buf = binary.LittleEndian.AppendUint64(e.buf, v)
}

func (e *encoder) str(s string) {
	for len(s) > 0 {
		e.room(1)
		n := len(e.buf)
		k := copy(e.buf[n:cap(e.buf)], s)
		e.buf = e.buf[:n+k]
		s = s[k:]
	}
}

func (e *encoder) bytes(b []byte) {
	for len(b) > 0 {
		e.room(1)
		n := len(e.buf)
		k := copy(e.buf[n:cap(e.buf)], b)
		e.buf = e.buf[:n+k]
		b = b[k:]
	}
}

// putInts writes v as little-endian integers width (4 or 8) bytes wide,
// truncating each value to the width, straight into the buffer.
func putInts[T uint32 | uint64](e *encoder, v []T, width int) {
	for len(v) > 0 {
		e.room(width)
		n := len(e.buf)
		k := min(len(v), (cap(e.buf)-n)/width)
		dst := e.buf[n : n+width*k]
		if width == 4 {
			for i, x := range v[:k] {
				binary.LittleEndian.PutUint32(dst[4*i:], uint32(x))
			}
		} else {
			for i, x := range v[:k] {
				binary.LittleEndian.PutUint64(dst[8*i:], uint64(x))
			}
		}
		e.buf = e.buf[:n+width*k]
		v = v[k:]
	}
}

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrCorruptCheckpoint, fmt.Sprintf(format, args...))
}

// ReadCheckpoint decodes a checkpoint written by WriteCheckpoint and
// returns the index (at Head() = the checkpoint's head) and a copy of the
// extra bytes. It verifies the magic, version, checksum and every
// structural invariant: a damaged checkpoint gives ErrCorruptCheckpoint or
// ErrCheckpointVersion (wrapped), never a wrong index. b is not retained.
func ReadCheckpoint(b []byte) (*Index, []byte, error) {
	le := binary.LittleEndian
	if len(b) < ckptHeaderSize+ckptSumSize {
		return nil, nil, corrupt("%d bytes, shorter than a header", len(b))
	}
	if string(b[:8]) != ckptMagic {
		return nil, nil, corrupt("bad magic %q", b[:8])
	}
	if v := le.Uint32(b[8:]); v != ckptVersion {
		return nil, nil, fmt.Errorf("%w: %d (want %d)", ErrCheckpointVersion, v, ckptVersion)
	}
	body := b[:len(b)-ckptSumSize]
	if got, want := xxhash.Sum64(body), le.Uint64(b[len(body):]); got != want {
		return nil, nil, corrupt("checksum mismatch (computed %#016x, stored %#016x)", got, want)
	}
	flags := le.Uint32(b[12:])
	head := le.Uint64(b[16:])
	nStreams := le.Uint64(b[24:])
	nRuns := le.Uint64(b[32:])
	idBytes := le.Uint64(b[40:])
	extraLen := le.Uint64(b[48:])
	if r := le.Uint64(b[56:]); r != 0 {
		return nil, nil, corrupt("reserved header field is %#x", r)
	}
	wide := head > wideAbove
	if flags&^ckptFlagWide != 0 || (flags&ckptFlagWide != 0) != wide {
		return nil, nil, corrupt("flags %#x with head %d", flags, head)
	}
	pw := uint64(4)
	if wide {
		pw = 8
	}
	size := uint64(len(b))
	if head > size/4 || nStreams > size/ckptStreamHdr || nRuns > size/ckptRunSize || idBytes > size || extraLen > size {
		return nil, nil, corrupt("counts too large for %d bytes", size)
	}
	want := ckptHeaderSize + nRuns*ckptRunSize + head*4 + nStreams*ckptStreamHdr + idBytes + head*pw + extraLen + ckptSumSize
	if want != size {
		return nil, nil, corrupt("size is %d bytes, header says %d", size, want)
	}
	if (head == 0) != (nStreams == 0) || (head == 0) != (nRuns == 0) {
		return nil, nil, corrupt("head %d with %d streams and %d runs", head, nStreams, nRuns)
	}
	off := uint64(ckptHeaderSize)

	runs := make([]run, nRuns)
	for i := range runs {
		r := run{first: le.Uint64(b[off:]), hi: le.Uint64(b[off+8:])}
		off += ckptRunSize
		switch {
		case r.hi&loMask != 0:
			return nil, nil, corrupt("run %d: hi %#x has low bits", i, r.hi)
		case i == 0 && r.first != 1:
			return nil, nil, corrupt("first run starts at %d", r.first)
		case i > 0 && (r.first <= runs[i-1].first || r.hi == runs[i-1].hi):
			return nil, nil, corrupt("run %d (first %d) does not follow run %d", i, r.first, i-1)
		case r.first > head:
			return nil, nil, corrupt("run %d starts at %d after head %d", i, r.first, head)
		}
		runs[i] = r
	}

	chunks := make([][]uint32, (head+chunkMask)>>chunkShift)
	for c := range chunks {
		k := min(head-uint64(c)*chunkSize, chunkSize)
		chunk := make([]uint32, chunkSize)
		src := b[off : off+4*k]
		for i := range chunk[:k] {
			chunk[i] = le.Uint32(src[4*i:])
		}
		chunks[c] = chunk
		off += 4 * k
	}

	end := size - ckptSumSize - extraLen // end of the stream records
	objs := make([]stream, nStreams)
	idEnds := make([]int, nStreams)
	seen := make([]uint64, (head+63)/64)
	var ids strings.Builder
	ids.Grow(int(idBytes))
	var prevID []byte
	var total, idTotal uint64
	for i := range objs {
		if end-off < ckptStreamHdr {
			return nil, nil, corrupt("stream %d: record past the end", i)
		}
		idLen := uint64(le.Uint32(b[off:]))
		count := le.Uint64(b[off+4:])
		s := &objs[i]
		s.createdAt = int64(le.Uint64(b[off+12:]))
		s.updatedAt = int64(le.Uint64(b[off+20:]))
		s.cpGen = 1 // New() starts at generation 1
		off += ckptStreamHdr
		if idLen > end-off || count == 0 || count > (end-off-idLen)/pw {
			return nil, nil, corrupt("stream %d: id length %d, %d positions: past the end", i, idLen, count)
		}
		id := b[off : off+idLen]
		off += idLen
		if i > 0 && bytes.Compare(prevID, id) >= 0 {
			return nil, nil, corrupt("stream %d: id %q not after %q", i, id, prevID)
		}
		prevID = id
		ids.Write(id)
		idTotal += idLen
		idEnds[i] = int(idTotal)

		p := make([]uint64, count)
		src := b[off : off+count*pw]
		off += count * pw
		if wide {
			for j := range p {
				p[j] = le.Uint64(src[8*j:])
			}
		} else {
			for j := range p {
				p[j] = uint64(le.Uint32(src[4*j:]))
			}
		}
		var prev uint64
		for _, v := range p {
			if v <= prev || v > head {
				return nil, nil, corrupt("stream %q: position %d after %d (head %d)", id, v, prev, head)
			}
			w, bit := (v-1)>>6, uint64(1)<<((v-1)&63)
			if seen[w]&bit != 0 {
				return nil, nil, corrupt("stream %q: position %d belongs to another stream", id, v)
			}
			seen[w] |= bit
			prev = v
		}
		s.positions = p
		total += count
	}
	if off != end || total != head || idTotal != idBytes {
		return nil, nil, corrupt("stream records hold %d positions and %d id bytes in %d bytes; header says %d, %d, %d",
			total, idTotal, off, head, idBytes, end)
	}
	extra := bytes.Clone(b[end : end+extraLen])

	ix := New()
	blob := ids.String() // one allocation for all ids
	start := 0
	for i := range objs {
		objs[i].id = blob[start:idEnds[i]]
		start = idEnds[i]
	}
	// The map and the tree are independent: build them side by side.
	done := make(chan map[string]*stream)
	go func() {
		m := make(map[string]*stream, len(objs))
		for i := range objs {
			m[objs[i].id] = &objs[i]
		}
		done <- m
	}()
	for i := range objs {
		ix.tree.ReplaceOrInsert(&objs[i])
	}
	ix.byID = <-done
	ix.locs = locTable{runs: runs, chunks: chunks}
	ix.posBytes = int64(head) * 8
	ix.idBytes = int64(idBytes)
	ix.head.Store(head)
	return ix, extra, nil
}
