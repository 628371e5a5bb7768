package engine

import (
	"strings"
	"sync"
)

// typeMarks tells subscriptions filtered by event type which commits hold
// one of their types. For every type some subscription waits for, it keeps
// the position of the latest event of that type and the subscriptions to
// wake; a commit wakes only those, and a woken one can tell without
// reading the log that nothing after its cursor is for it. Without this,
// every commit woke every subscription at the head, and a thousand idle
// filtered ones took more CPU than the appends (cmd/eventd's
// TestSubscriberOverhead). Only watched types are kept, so the map is as
// large as the subscriptions' filters, whatever types are appended.
//
// The writer notes a batch's types before it publishes the new head and
// signals the waiters after, so a subscription that loads the head first
// and then asks noneAfter gets an answer that covers every event up to that
// head, and one that found nothing sleeps until a signal it cannot miss
// (its channel is registered before it looks).
type typeMarks struct {
	mu    sync.Mutex
	marks map[string]*typeMark
	noted uint64          // last position of the batches noted so far
	batch uint64          // writer: number of the batch being noted
	wake  []chan struct{} // writer: the waiters of the batch's types
}

type typeMark struct {
	from    uint64 // the mark knows every event of its type after this position
	last    uint64 // position of the latest such event; 0: none after from
	noted   uint64 // the batch that last gathered the waiters
	waiters map[chan struct{}]struct{}
}

func newTypeMarks(head uint64) *typeMarks {
	return &typeMarks{marks: make(map[string]*typeMark), noted: head}
}

// note records a committed batch, types[i] being the type of the event at
// position first+i, and gathers the subscriptions to wake. Writer only,
// before it publishes the head; signal after.
func (t *typeMarks) note(first uint64, types []string) {
	if len(types) == 0 {
		return
	}
	t.mu.Lock()
	if len(t.marks) > 0 { // (nobody watches: only noted moves)
		t.batch++
		for i, typ := range types {
			m, ok := t.marks[typ]
			if !ok {
				continue
			}
			m.last = first + uint64(i)
			if m.noted != t.batch {
				m.noted = t.batch
				for ch := range m.waiters {
					t.wake = append(t.wake, ch)
				}
			}
		}
	}
	t.noted = first + uint64(len(types)) - 1
	t.mu.Unlock()
}

// signal wakes the subscriptions note gathered and returns how many. Writer
// only, after the head moved.
func (t *typeMarks) signal() int {
	wake := t.wake // the token holder's alone (note and signal): no lock
	t.wake = t.wake[:0]
	for i, ch := range wake {
		select {
		case ch <- struct{}{}:
		default: // a wake-up is pending already
		}
		wake[i] = nil
	}
	return len(wake)
}

// noneAfter reports whether it is known that no event of any of types has a
// position after cursor (up to the head loaded before the call). types
// must be watched.
func (t *typeMarks) noneAfter(types []string, cursor uint64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, typ := range types {
		m, ok := t.marks[typ]
		if !ok || cursor < m.from || m.last > cursor {
			return false
		}
	}
	return true
}

// watch registers ch to be signalled when an event of one of types is
// committed; unwatch removes it. A type's mark knows the events noted after
// it was first watched, so a subscription whose cursor is older reads the
// log until it has passed that point.
func (t *typeMarks) watch(types []string, ch chan struct{}) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, typ := range types {
		m, ok := t.marks[typ]
		if !ok {
			m = &typeMark{from: t.noted, waiters: make(map[chan struct{}]struct{})}
			t.marks[strings.Clone(typ)] = m // the caller's string may alias a request
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
			if len(m.waiters) == 0 {
				delete(t.marks, typ)
			}
		}
	}
}
