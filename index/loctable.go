package index

// The position → Loc table.
//
// A Loc is opaque to the index, except that consecutive positions usually
// share its high 32 bits (the segment package packs ordinal<<40 | offset, and
// a segment holds many records below 4 GiB). So the table keeps:
//
//   - runs: the first position of every run of consecutive positions whose
//     Locs share their high 32 bits, with those bits (a few per segment);
//   - chunks: the low 32 bits of every position's Loc, 4 bytes per event,
//     in fixed-size chunks (no growth slack, no copying as it grows).
//
// Loc(pos) = runs[r].hi | chunks[(pos-1)/chunkSize][(pos-1)%chunkSize],
// where r is the last run with first <= pos: a binary search over runs and
// an array lookup.
//
// Elements at positions <= head are never changed in place: a truncation
// copies the chunk it cuts (cutChunk), so a checkpoint that copied the chunk
// headers can read them without the lock while the writer goes on.

const (
	chunkShift = 15
	chunkSize  = 1 << chunkShift // positions per chunk (128 KiB)
	chunkMask  = chunkSize - 1
	loMask     = 1<<32 - 1
)

type run struct {
	first uint64 // first position of the run
	hi    uint64 // high 32 bits of the Locs of the run (low 32 bits zero)
}

type locTable struct {
	runs   []run      // ascending first; runs[0].first == 1 when not empty
	chunks [][]uint32 // each of length chunkSize
}

// runFor returns the index of the run holding pos (runs not empty, pos >= 1).
func (t *locTable) runFor(pos uint64) int {
	r := t.runs
	last := len(r) - 1
	if r[last].first <= pos {
		return last
	}
	lo, hi := 0, last // r[lo].first <= pos < r[hi].first
	for hi-lo > 1 {
		m := int(uint(lo+hi) >> 1)
		if r[m].first <= pos {
			lo = m
		} else {
			hi = m
		}
	}
	return lo
}

// get returns the Loc of pos; 1 <= pos <= head.
func (t *locTable) get(pos uint64) uint64 {
	i := pos - 1
	return t.runs[t.runFor(pos)].hi | uint64(t.chunks[i>>chunkShift][i&chunkMask])
}

// appendRange appends the Locs of from..to (inclusive, 1 <= from <= to <= head).
func (t *locTable) appendRange(dst []uint64, from, to uint64) []uint64 {
	r := t.runFor(from)
	for pos := from; pos <= to; r++ {
		end := to
		if r+1 < len(t.runs) && t.runs[r+1].first-1 < end {
			end = t.runs[r+1].first - 1
		}
		hi := t.runs[r].hi
		for pos <= end {
			i := pos - 1
			off := i & chunkMask
			k := min(end-pos+1, chunkSize-off)
			for _, lo := range t.chunks[i>>chunkShift][off : off+k] {
				dst = append(dst, hi|uint64(lo))
			}
			pos += k
		}
	}
	return dst
}

// set records the Loc of pos == head+1 (writer, under the write lock).
func (t *locTable) set(pos, loc uint64) {
	hi := loc &^ loMask
	if n := len(t.runs); n == 0 || t.runs[n-1].hi != hi {
		t.runs = append(t.runs, run{first: pos, hi: hi})
	}
	i := pos - 1
	c := int(i >> chunkShift)
	if c == len(t.chunks) {
		t.chunks = append(t.chunks, make([]uint32, chunkSize))
	}
	t.chunks[c][i&chunkMask] = uint32(loc)
}

// truncate drops every position after pos (writer, under the write lock).
func (t *locTable) truncate(pos uint64) {
	k := 0
	for k < len(t.runs) && t.runs[k].first <= pos {
		k++
	}
	clear(t.runs[k:])
	t.runs = t.runs[:k]
	n := int((pos + chunkMask) >> chunkShift) // chunks still needed
	clear(t.chunks[n:])
	t.chunks = t.chunks[:n]
	if cut := int(pos & chunkMask); cut != 0 {
		// Later appends would overwrite positions > pos in this chunk,
		// which a running checkpoint may still read: write to a copy.
		fresh := make([]uint32, chunkSize)
		copy(fresh, t.chunks[n-1][:cut])
		t.chunks[n-1] = fresh
	}
}

func (t *locTable) memoryBytes() int64 {
	return int64(len(t.chunks))*chunkSize*4 + int64(cap(t.chunks))*24 + int64(cap(t.runs))*16
}
