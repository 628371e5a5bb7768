package index

import (
	"fmt"
	"sort"
)

// TruncateAfter drops every position after pos: streams whose positions
// all go away are removed, the others' versions shrink. Writer only.
//
// Recovery does not use it (the engine discards a checkpoint that
// disagrees with the log, see the package documentation). It is kept for
// replication: a follower that truncates a divergent suffix of its log
// must truncate the index with it. Only tests call it today.
//
// The index does not keep per-event timestamps, so a stream that loses its
// last events keeps its old UpdatedAt (an upper bound of the true one). Use
// TruncateAfterFunc to correct it.
func (ix *Index) TruncateAfter(pos uint64) {
	_ = ix.TruncateAfterFunc(pos, nil)
}

// TruncateAfterFunc is TruncateAfter that learns the new UpdatedAt of each
// stream that keeps some of its events: updatedAt is called, from this
// goroutine and without any index lock held, with the stream id and the Loc
// of the stream's new last event, and returns that event's Timestamp. If it
// fails, TruncateAfterFunc returns the error and changes nothing. A nil
// updatedAt keeps the old UpdatedAt. Writer only.
//
// It scans every stream (truncation is rare, not a hot path).
func (ix *Index) TruncateAfterFunc(pos uint64, updatedAt func(id string, loc uint64) (int64, error)) error {
	if pos >= ix.head.Load() {
		return nil
	}
	type change struct {
		s    *stream
		keep int   // positions kept
		ts   int64 // new UpdatedAt
	}
	var changes []change
	ix.mu.RLock()
	ix.tree.Ascend(func(s *stream) bool {
		p := s.positions
		if p[len(p)-1] > pos {
			k := sort.Search(len(p), func(i int) bool { return p[i] > pos })
			changes = append(changes, change{s: s, keep: k, ts: s.updatedAt})
		}
		return true
	})
	ix.mu.RUnlock()

	if updatedAt != nil {
		for i := range changes {
			c := &changes[i]
			if c.keep == 0 {
				continue
			}
			loc, _ := ix.Locate(c.s.positions[c.keep-1]) // <= pos < head: present
			ts, err := updatedAt(c.s.id, loc)
			if err != nil {
				return fmt.Errorf("index: truncate after %d: stream %q: %w", pos, c.s.id, err)
			}
			c.ts = ts
		}
	}

	ix.mu.Lock()
	for _, c := range changes {
		p := c.s.positions
		if c.keep == 0 {
			ix.tree.Delete(c.s)
			delete(ix.byID, c.s.id)
			ix.idBytes -= int64(len(c.s.id))
			ix.posBytes -= int64(cap(p)) * 8
			continue
		}
		ix.posBytes -= int64(cap(p)-c.keep) * 8
		// Clip the capacity: the next append must not overwrite the
		// dropped positions, which readers or a checkpoint may hold.
		ix.updateLocked(c.s, p[:c.keep:c.keep], c.ts)
	}
	ix.locs.truncate(pos)
	ix.head.Store(pos)
	ix.mu.Unlock()
	return nil
}
