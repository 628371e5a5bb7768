package index

import (
	"fmt"
	"slices"
	"strings"
)

// scratch holds Apply's buffers, reused from batch to batch (writer only).
type scratch struct {
	groups []group
	next   []int32          // next[i]: the next entry of entry i's stream in the batch, -1 at the end
	byID   map[string]int32 // stream id → group, once a batch has more than linearGroups streams
}

// linearGroups: up to this many streams in a batch are grouped by a linear
// scan, more through the map.
const linearGroups = 8

// group is one stream's entries in a batch: a chain first → next[...] → last.
type group struct {
	first, last int32
	count       int32
	s           *stream  // the stream (nil: new stream)
	positions   []uint64 // the stream's positions after the batch
	fresh       *stream  // the new stream object for a new stream
	grown       int64    // bytes added to posBytes
}

// Apply indexes a batch of entries. Writer only (never concurrently with
// another Apply or TruncateAfter). The positions must be consecutive from
// Head()+1; anything else is a bug in the caller and panics.
//
// Cost: one map lookup per stream in the batch under the read lock, the
// positions appended outside any lock, then a short write-lock hold that
// publishes the streams (a tree insert only for a new stream, or for the
// first change of a stream while a checkpoint is being written) and the
// Locs. No allocation per entry: a stream's positions grow at most once
// per batch.
func (ix *Index) Apply(batch []Entry) {
	if len(batch) == 0 {
		return
	}
	head := ix.head.Load()
	for i := range batch {
		if batch[i].Pos != head+uint64(i)+1 {
			panic(fmt.Sprintf("index: Apply: entry %d has position %d, want %d", i, batch[i].Pos, head+uint64(i)+1))
		}
	}
	groups := ix.w.group(batch)
	next := ix.w.next

	// Phase 1: find the streams. Only this goroutine changes the
	// directory, so what it finds stays current until phase 2.
	ix.mu.RLock()
	for g := range groups {
		groups[g].s = ix.byID[batch[groups[g].first].StreamID]
	}
	ix.mu.RUnlock()

	// Build the new positions without any lock: appends write past the
	// published length only (see stream).
	for g := range groups {
		gr := &groups[g]
		var p []uint64
		if gr.s != nil {
			p = gr.s.positions
		}
		if need := len(p) + int(gr.count); need > cap(p) {
			old := cap(p)
			p = grow(p, need)
			gr.grown = int64(cap(p)-old) * 8
		}
		for j := gr.first; j >= 0; j = next[j] {
			p = append(p, batch[j].Pos)
		}
		gr.positions = p
		if gr.s == nil {
			gr.fresh = &stream{
				id:        strings.Clone(batch[gr.first].StreamID),
				positions: p,
				createdAt: batch[gr.first].Timestamp,
				updatedAt: batch[gr.last].Timestamp,
			}
		}
	}

	// Phase 2: publish.
	ix.mu.Lock()
	for g := range groups {
		gr := &groups[g]
		ix.posBytes += gr.grown
		if s := gr.fresh; s != nil {
			s.cpGen = ix.cpGen
			ix.tree.ReplaceOrInsert(s)
			ix.byID[s.id] = s
			ix.idBytes += int64(len(s.id))
			continue
		}
		ix.updateLocked(gr.s, gr.positions, batch[gr.last].Timestamp)
	}
	for i := range batch {
		ix.locs.set(batch[i].Pos, batch[i].Loc)
	}
	ix.head.Store(batch[len(batch)-1].Pos)
	ix.mu.Unlock()

	clear(groups) // drop references to streams and slices
}

// updateLocked sets an existing stream's positions and UpdatedAt, copying
// the stream object first when a running checkpoint may share it.
func (ix *Index) updateLocked(s *stream, positions []uint64, updatedAt int64) {
	if ix.checkpointsActive > 0 && s.cpGen != ix.cpGen {
		c := &stream{id: s.id, positions: positions, createdAt: s.createdAt, updatedAt: updatedAt, cpGen: ix.cpGen}
		ix.cowCopies++
		ix.tree.ReplaceOrInsert(c)
		ix.byID[c.id] = c
		return
	}
	s.positions = positions
	s.updatedAt = updatedAt
}

// group splits a batch by stream, keeping each stream's entries in order.
func (w *scratch) group(batch []Entry) []group {
	n := len(batch)
	if cap(w.next) < n {
		w.next = make([]int32, n)
	}
	w.next = w.next[:n]
	gs := w.groups[:0]
	mapped := false
	prev := int32(-1)
	for i := range batch {
		id := batch[i].StreamID
		g := int32(-1)
		switch {
		case i > 0 && id == batch[i-1].StreamID:
			g = prev
		case !mapped:
			for k := range gs {
				if batch[gs[k].first].StreamID == id {
					g = int32(k)
					break
				}
			}
		default:
			if k, ok := w.byID[id]; ok {
				g = k
			}
		}
		if g < 0 {
			g = int32(len(gs))
			gs = append(gs, group{first: int32(i), last: int32(i)})
			if mapped {
				w.byID[id] = g
			} else if len(gs) > linearGroups {
				if w.byID == nil {
					w.byID = make(map[string]int32)
				}
				for k := range gs {
					w.byID[batch[gs[k].first].StreamID] = int32(k)
				}
				mapped = true
			}
		} else {
			w.next[gs[g].last] = int32(i)
			gs[g].last = int32(i)
		}
		gs[g].count++
		w.next[i] = -1
		prev = g
	}
	if mapped {
		clear(w.byID) // keeps the buckets; drops the batch's strings
	}
	w.groups = gs
	return gs
}

// grow returns a copy of p with room for at least need elements. Capacity
// grows by 1/4 (append would double small slices), rounded up to the
// allocator's size class: 1, 2, 3, 4, 6, 8, 10, 12, 16, 20, … elements.
// That keeps the slack of the millions of small per-stream slices low.
func grow(p []uint64, need int) []uint64 {
	c := max(need, cap(p)+cap(p)/4)
	np := slices.Grow([]uint64(nil), c) // from nil: exactly c, rounded to the size class
	return append(np, p...)
}
