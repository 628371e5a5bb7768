package engine

import (
	"strings"
	"sync"
)

// typeMarks remembers the position of the latest event of each event type
// appended since the store opened, and which subscriptions filtered by
// event type wait for which types. A commit wakes only the subscriptions
// waiting for a type it holds, and a woken one can tell without reading the
// log that nothing after its cursor is for it. Without this, every commit
// woke every subscription at the head, and a thousand idle filtered ones
// took more CPU than the appends (cmd/eventd's TestSubscriberOverhead).
//
// The writer notes a batch's types before it publishes the new head and
// signals the waiters after, so a subscription that loads the head first
// and then asks noneAfter gets an answer that covers every event up to that
// head, and one that found nothing sleeps until a signal it cannot miss
// (its channel is registered before it looks).
type typeMarks struct {
	from uint64 // the marks know every event after this position (the head at open)

	mu    sync.Mutex
	marks map[string]*typeMark
	batch uint64          // writer: number of the batch being noted
	wake  []chan struct{} // writer: the waiters of the batch's types
}

type typeMark struct {
	last    uint64 // position of the latest event of the type; 0: none since open
	noted   uint64 // the batch that last collected the waiters
	waiters map[chan struct{}]struct{}
}

func newTypeMarks(from uint64) *typeMarks {
	return &typeMarks{from: from, marks: make(map[string]*typeMark)}
}

// markLocked returns typ's mark, making it (with a copy of the name: the
// caller's string may alias a request).
func (t *typeMarks) markLocked(typ string) *typeMark {
	m, ok := t.marks[typ]
	if !ok {
		m = &typeMark{}
		t.marks[strings.Clone(typ)] = m
	}
	return m
}

// note records a committed batch, types[i] being the type of the event at
// position first+i, and gathers the subscriptions to wake. Writer only,
// before it publishes the head; signal after.
func (t *typeMarks) note(first uint64, types []string) {
	if len(types) == 0 {
		return
	}
	t.mu.Lock()
	t.batch++
	for i, typ := range types {
		m := t.markLocked(typ)
		m.last = first + uint64(i)
		if m.noted != t.batch && len(m.waiters) > 0 {
			m.noted = t.batch
			for ch := range m.waiters {
				t.wake = append(t.wake, ch)
			}
		}
	}
	t.mu.Unlock()
}

// signal wakes the subscriptions note gathered. Writer only, after the head
// moved.
func (t *typeMarks) signal() {
	t.mu.Lock()
	wake := t.wake
	t.wake = t.wake[:0]
	t.mu.Unlock()
	for i, ch := range wake {
		select {
		case ch <- struct{}{}:
		default: // a wake-up is pending already
		}
		wake[i] = nil
	}
}

// noneAfter reports whether it is known that no event of any of types has a
// position after cursor (up to the head loaded before the call).
func (t *typeMarks) noneAfter(types []string, cursor uint64) bool {
	if len(types) == 0 || cursor < t.from {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, typ := range types {
		if m, ok := t.marks[typ]; ok && m.last > cursor {
			return false
		}
	}
	return true
}

// watch registers ch to be signalled when an event of one of types is
// committed; unwatch removes it.
func (t *typeMarks) watch(types []string, ch chan struct{}) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, typ := range types {
		m := t.markLocked(typ)
		if m.waiters == nil {
			m.waiters = make(map[chan struct{}]struct{})
		}
		m.waiters[ch] = struct{}{}
	}
}

func (t *typeMarks) unwatch(types []string, ch chan struct{}) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, typ := range types {
		if m, ok := t.marks[typ]; ok {
			delete(m.waiters, ch)
			if len(m.waiters) == 0 && m.last == 0 {
				delete(t.marks, typ) // made only to wait: leave nothing behind
			}
		}
	}
}
