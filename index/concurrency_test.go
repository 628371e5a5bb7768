package index

import (
	"bytes"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// In the concurrency test everything about a position is a function of it,
// so a reader can check whatever it sees, whatever the writer is doing
// (even after a truncation and re-append).
func ownerOf(pos uint64) string { return fmt.Sprintf("s/%d", (pos*7919)%53) }
func locOf(pos uint64) uint64   { return L(pos/1000, pos*64) }
func tsOf(pos uint64) int64     { return int64(pos) * 3 }
func posOfLoc(loc uint64) uint64 {
	return (loc & (1<<40 - 1)) / 64
}

func checkStream(s Stream) error {
	if len(s.Positions) == 0 {
		return fmt.Errorf("stream %q without positions", s.ID)
	}
	for i, p := range s.Positions {
		if ownerOf(p) != s.ID || (i > 0 && p <= s.Positions[i-1]) {
			return fmt.Errorf("stream %q has positions %v", s.ID, s.Positions)
		}
	}
	if s.CreatedAt != tsOf(s.Positions[0]) || s.UpdatedAt != tsOf(s.Positions[len(s.Positions)-1]) {
		return fmt.Errorf("stream %q times %d %d for positions %v", s.ID, s.CreatedAt, s.UpdatedAt, s.Positions)
	}
	return nil
}

func TestConcurrentReadersAndCheckpoints(t *testing.T) {
	ix := New()
	const target = 60000
	var stop atomic.Bool
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	fail := func(err error) {
		select {
		case errs <- err:
		default:
		}
		stop.Store(true)
	}

	// The writer: batches of varying size, now and then a truncation.
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer stop.Store(true)
		batch := make([]Entry, 0, 500)
		for n := 0; ix.Head() < target && !stop.Load(); n++ {
			if n%50 == 49 {
				err := ix.TruncateAfterFunc(ix.Head()-ix.Head()/20, func(_ string, loc uint64) (int64, error) {
					return tsOf(posOfLoc(loc)), nil
				})
				if err != nil {
					fail(err)
					return
				}
				continue
			}
			batch = batch[:0]
			for i := range 1 + n%cap(batch) {
				p := ix.Head() + uint64(i) + 1
				batch = append(batch, Entry{Pos: p, StreamID: ownerOf(p), Loc: locOf(p), Timestamp: tsOf(p)})
			}
			ix.Apply(batch)
		}
	}()

	// Readers.
	for r := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var dst []uint64
			for i := 0; !stop.Load(); i++ {
				head := ix.Head()
				if head == 0 {
					continue
				}
				pos := 1 + uint64(i*7+r)%head
				if loc, ok := ix.Locate(pos); ok && loc != locOf(pos) {
					fail(fmt.Errorf("Locate(%d) = %#x", pos, loc))
					return
				}
				dst = ix.LocateRange(pos, 300, dst[:0])
				for j, loc := range dst {
					if loc != locOf(pos+uint64(j)) {
						fail(fmt.Errorf("LocateRange(%d)[%d] = %#x", pos, j, loc))
						return
					}
				}
				if s, ok := ix.Stream(ownerOf(pos)); ok {
					if err := checkStream(s); err != nil {
						fail(err)
						return
					}
				}
				_ = ix.Version(ownerOf(pos))
				if i%50 == 0 {
					ix.Ascend("s/", "s/2", 10, func(s Stream) bool {
						if err := checkStream(s); err != nil {
							fail(err)
							return false
						}
						return true
					})
					_, _ = ix.Len(), ix.MemoryBytes()
				}
			}
		}()
	}

	// Checkpoints while the writer runs: each must decode to exactly the
	// state at its head.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			var buf bytes.Buffer
			if err := ix.WriteCheckpoint(&buf, nil); err != nil {
				fail(err)
				return
			}
			got, _, err := ReadCheckpoint(buf.Bytes())
			if err != nil {
				fail(err)
				return
			}
			head := got.Head()
			n := uint64(0)
			got.Ascend("", "", 0, func(s Stream) bool {
				if err := checkStream(s); err != nil {
					fail(fmt.Errorf("checkpoint at %d: %w", head, err))
					return false
				}
				n += uint64(len(s.Positions))
				return true
			})
			if n != head {
				fail(fmt.Errorf("checkpoint at %d holds %d positions", head, n))
				return
			}
			if locs := got.LocateRange(1, int(head), nil); len(locs) != int(head) || (head > 0 && locs[head-1] != locOf(head)) {
				fail(fmt.Errorf("checkpoint at %d: bad Locs", head))
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()

	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	checkInvariants(t, ix)
	for s := range slices.Values(ascendAll(ix, "", "", 0)) {
		if err := checkStream(s); err != nil {
			t.Fatal(err)
		}
	}
}
