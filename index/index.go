package index

import (
	"strings"
	"sync"
	"sync/atomic"

	"github.com/google/btree"
)

// Entry is one event as the writer hands it to Apply.
type Entry struct {
	Pos       uint64 // global position; a batch's entries are consecutive from Head()+1
	StreamID  string // copied by the index when the stream is new (it may alias a read buffer)
	Loc       uint64 // where the record is; opaque (the segment package packs ordinal<<40 | offset)
	Timestamp int64  // unix nanoseconds
}

// Stream is a copy of one stream's entry.
type Stream struct {
	ID string
	// Positions[i] is the global position of version i+1, so the version
	// is len(Positions). Read-only: it shares memory with the index (its
	// capacity is clipped, so an append by the caller copies).
	Positions []uint64
	CreatedAt int64 // unix ns: Timestamp of the first event
	UpdatedAt int64 // unix ns: Timestamp of the last event
}

// degree of the stream directory's B-tree: nodes hold up to 63 pointers,
// few levels at millions of streams, cheap copy-on-write after a
// checkpoint's Clone.
const degree = 32

// stream is one stream's entry: 64 bytes (one size class). The B-tree
// (order) and the byID map (lookups) both point to it, so an append to an
// existing stream is a map lookup and a field update under the write lock.
//
// The positions slice is append-only: the writer only ever writes past
// len(positions) of every header it has published, and a truncation clips
// the capacity (positions[:k:k]) so the next append reallocates. So a
// reader may copy the header under the read lock and read that prefix
// after releasing it: nobody will ever change those elements.
//
// While a checkpoint is being written (Index.checkpointsActive > 0),
// objects that may be shared with its tree clone (cpGen != Index.cpGen)
// are copied before they are changed (copy-on-write), so the checkpoint
// sees a frozen state.
type stream struct {
	id        string // owned by the index (never aliases a caller's buffer)
	positions []uint64
	createdAt int64
	updatedAt int64
	cpGen     uint64 // Index.cpGen when this object was created
}

func lessStream(a, b *stream) bool { return a.id < b.id }

func (s *stream) export() Stream {
	p := s.positions
	return Stream{ID: s.id, Positions: p[:len(p):len(p)], CreatedAt: s.createdAt, UpdatedAt: s.updatedAt}
}

// Index is the in-memory stream directory and position → Loc table.
// See the package documentation for the concurrency rules.
type Index struct {
	mu sync.RWMutex

	// head is the last indexed position (0: empty). Stored only under mu's
	// write lock, together with the tree and locs; loaded atomically by
	// Head() without the lock.
	head atomic.Uint64

	// The stream directory, guarded by mu: the same objects in id order
	// (listing) and hashed (lookups: a B-tree search costs a cache miss
	// per string comparison).
	tree *btree.BTreeG[*stream]
	byID map[string]*stream
	locs locTable // guarded by mu

	// Checkpoint generations (see stream), guarded by mu.
	cpGen             uint64 // incremented by every checkpoint's Clone
	checkpointsActive int    // checkpoints being written now
	cowCopies         int64  // stream objects copied for a checkpoint

	// Memory accounting (guarded by mu), see MemoryBytes.
	posBytes int64 // Σ cap(positions)*8
	idBytes  int64 // Σ len(id)

	w scratch // Apply's reusable buffers; writer only
}

// New returns an empty index.
func New() *Index {
	return &Index{tree: btree.NewG(degree, lessStream), byID: make(map[string]*stream), cpGen: 1}
}

// Head returns the last indexed position (0 when empty).
func (ix *Index) Head() uint64 { return ix.head.Load() }

// Len returns the number of streams.
func (ix *Index) Len() int {
	ix.mu.RLock()
	n := ix.tree.Len()
	ix.mu.RUnlock()
	return n
}

// Stream returns a copy of the stream's entry.
func (ix *Index) Stream(id string) (Stream, bool) {
	ix.mu.RLock()
	s, ok := ix.byID[id]
	var st Stream
	if ok {
		st = s.export()
	}
	ix.mu.RUnlock()
	return st, ok
}

// Version returns the stream's version (its number of events); 0 when the
// stream does not exist.
func (ix *Index) Version(id string) uint64 {
	ix.mu.RLock()
	var v uint64
	if s, ok := ix.byID[id]; ok {
		v = uint64(len(s.positions))
	}
	ix.mu.RUnlock()
	return v
}

// Locate returns the Loc of a position, false when it is 0 or after Head().
func (ix *Index) Locate(pos uint64) (uint64, bool) {
	ix.mu.RLock()
	if pos == 0 || pos > ix.head.Load() {
		ix.mu.RUnlock()
		return 0, false
	}
	loc := ix.locs.get(pos)
	ix.mu.RUnlock()
	return loc, true
}

// LocateRange appends to dst the Locs of positions from .. from+n-1,
// stopping at Head(), and returns it. Position 0 does not exist: from == 0
// returns dst unchanged.
func (ix *Index) LocateRange(from uint64, n int, dst []uint64) []uint64 {
	if from == 0 || n <= 0 {
		return dst
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	head := ix.head.Load()
	if from > head {
		return dst
	}
	to := head
	if uint64(n)-1 < head-from {
		to = from + uint64(n) - 1
	}
	return ix.locs.appendRange(dst, from, to)
}

// ascendPage is how many streams Ascend copies per read-lock hold.
const ascendPage = 256

// Ascend calls fn for the streams whose id has the prefix and is > after,
// in id order, at most limit of them (limit <= 0: no limit), until fn
// returns false. fn runs without any lock held (it may call the index);
// streams are copied a page at a time, so each Stream is consistent but a
// long listing may interleave with appends.
func (ix *Index) Ascend(prefix, after string, limit int, fn func(Stream) bool) {
	pivot := prefix
	if after >= prefix {
		pivot = after + "\x00" // the smallest id > after
	}
	page := ascendPage
	if limit > 0 && limit < page {
		page = limit
	}
	buf := make([]Stream, 0, page)
	for {
		want := page
		if limit > 0 && limit < want {
			want = limit
		}
		buf = buf[:0]
		done := false
		ix.mu.RLock()
		ix.tree.AscendGreaterOrEqual(&stream{id: pivot}, func(s *stream) bool {
			if !strings.HasPrefix(s.id, prefix) {
				done = true
				return false
			}
			buf = append(buf, s.export())
			return len(buf) < want
		})
		ix.mu.RUnlock()
		if len(buf) < want {
			done = true
		}
		for _, st := range buf {
			if !fn(st) {
				return
			}
		}
		if limit > 0 {
			limit -= len(buf)
			if limit == 0 {
				return
			}
		}
		if done {
			return
		}
		pivot = buf[len(buf)-1].ID + "\x00"
	}
}

// Per-stream RAM besides its positions and id bytes, used by MemoryBytes:
// the stream object (64 bytes), its B-tree pointer at the average node
// fill plus the nodes' headers, and its byID map slot at the average load.
// Calibrated with BenchmarkMemory.
const streamOverhead = 64 + 16 + 40

// MemoryBytes estimates the RAM held by the index (for /metrics).
func (ix *Index) MemoryBytes() int64 {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	n := int64(ix.tree.Len())
	return n*streamOverhead + ix.idBytes + ix.posBytes + ix.locs.memoryBytes()
}
