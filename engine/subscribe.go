package engine

import (
	"context"
	"sort"
	"sync"
)

// Subscription follows $all (or one stream) from a start point: catch-up
// from disk, then live, never skipping or repeating. It holds no events in
// memory between calls: a slow reader simply reads from disk, and the
// writer never waits for it.
type Subscription struct {
	s      *Store
	filter Filter

	// $all: cursor is the last position examined.
	// Stream: cursor is the last version delivered; while fromPos > 0 the
	// start is still a position (Last-Event-ID) to be turned into a version.
	stream  string
	cursor  uint64
	fromPos uint64
	stored  bool // events as stored, not upcast (StoredReader)

	closeOnce sync.Once
}

// Subscribe follows $all from position from (exclusive) with a filter.
func (s *Store) Subscribe(from uint64, f Filter) *Subscription {
	s.subscribers.Add(1)
	return &Subscription{s: s, filter: f, cursor: from}
}

// SubscribeStream follows one stream from fromVersion (exclusive); if
// fromPosition > 0 it wins: the stream's events with position > fromPosition.
func (s *Store) SubscribeStream(streamID string, fromVersion, fromPosition uint64) *Subscription {
	s.subscribers.Add(1)
	return &Subscription{s: s, stream: streamID, cursor: fromVersion, fromPos: fromPosition}
}

// Position is the subscription's cursor: the last position examined ($all)
// or the last version delivered (stream).
func (sub *Subscription) Position() uint64 { return sub.cursor }

// Next blocks until at least one matching event follows the cursor (or ctx
// ends, or the store closes), then returns up to max of them and advances.
func (sub *Subscription) Next(ctx context.Context, max int) ([]Event, error) {
	if max <= 0 {
		max = 1000
	}
	s := sub.s
	for {
		// Take the wake-up channel before looking, so a head move between
		// the look and the wait is not missed.
		moved := s.headMoved.Wait()
		var evs []Event
		var err error
		if sub.stream == "" {
			evs, err = sub.nextAll(max)
		} else {
			evs, err = sub.nextStream(max)
		}
		if err != nil {
			select {
			case <-s.closed:
				return nil, ErrClosed // a read cut short by Close
			default:
			}
			return nil, err
		}
		if len(evs) > 0 {
			return evs, nil
		}
		select {
		case <-moved:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.closed:
			return nil, ErrClosed
		}
	}
}

func (sub *Subscription) nextAll(max int) ([]Event, error) {
	for sub.cursor < sub.s.Head() {
		var page Page
		var err error
		page.Next, page.Head, err = sub.s.readAll(sub.cursor, Forward, max, sub.filter, readOpts{stored: sub.stored}, func(e *Event) error {
			page.Events = append(page.Events, *e)
			return nil
		})
		if err != nil {
			return nil, err
		}
		// Next is where the read stopped early; otherwise it examined
		// everything up to the head it saw.
		sub.cursor = page.Head
		if page.Next != 0 {
			sub.cursor = page.Next
		}
		if len(page.Events) > 0 {
			return page.Events, nil
		}
	}
	return nil, nil
}

func (sub *Subscription) nextStream(max int) ([]Event, error) {
	s := sub.s
	if sub.fromPos > 0 {
		st, ok := s.ix.Stream(sub.stream)
		if !ok {
			return nil, nil
		}
		head := s.Head() // once: the two checks below must agree
		pos := visible(st.Positions, head)
		// Versions whose position is ≤ fromPos were seen already.
		sub.cursor = uint64(sort.Search(len(pos), func(i int) bool { return pos[i] > sub.fromPos }))
		if sub.fromPos > head && sub.cursor == uint64(len(pos)) {
			return nil, nil // the position is not reached yet: keep it
		}
		sub.fromPos = 0
	}
	var page Page
	_, _, err := s.readStream(sub.stream, sub.cursor, Forward, max, readOpts{stored: sub.stored}, func(e *Event) error {
		page.Events = append(page.Events, *e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if n := len(page.Events); n > 0 {
		sub.cursor = page.Events[n-1].Version
	}
	return page.Events, nil
}

// Close releases the subscription (counted in Stats.Subscribers).
func (sub *Subscription) Close() {
	sub.closeOnce.Do(func() { sub.s.subscribers.Add(-1) })
}
