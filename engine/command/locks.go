package command

import (
	"context"
	"sync"
)

// aggregateLocks serialize the commands of one aggregate (stream) inside
// the daemon, first come first served, so that a burst of commands on one
// aggregate is decided one after another against fresh state instead of
// racing and burning retries. Commands on different aggregates never wait
// for each other (and so share the writer's group commits). A lock exists
// only while someone holds or waits for it: memory does not grow with the
// number of aggregates.
//
// Taking a place in the queue (enqueue) is separate from waiting for it
// (ticket.wait), so the async dispatcher can take places in the order it
// dequeues commands and keep their submission order per aggregate.
type aggregateLocks struct {
	mu sync.Mutex
	m  map[string]*aggLock
}

type aggLock struct {
	held    bool
	waiters []chan struct{} // FIFO; each closed when its turn comes
}

// ticket is a place in an aggregate's queue. Exactly one of wait's
// success + release, or cancel, must follow enqueue.
type ticket struct {
	locks  *aggregateLocks
	stream string
	turn   chan struct{} // nil: held at once
}

func newAggregateLocks() *aggregateLocks { return &aggregateLocks{m: map[string]*aggLock{}} }

// enqueue takes the next place in stream's queue.
func (l *aggregateLocks) enqueue(stream string) *ticket {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := &ticket{locks: l, stream: stream}
	a := l.m[stream]
	if a == nil {
		a = &aggLock{}
		l.m[stream] = a
	}
	if !a.held {
		a.held = true
		return t
	}
	t.turn = make(chan struct{})
	a.waiters = append(a.waiters, t.turn)
	return t
}

// wait blocks until the ticket's turn; on ctx's end it gives the place up
// and returns ctx.Err() (the lock is not held then).
func (t *ticket) wait(ctx context.Context) error {
	if t.turn == nil {
		return nil
	}
	select {
	case <-t.turn:
		return nil
	case <-ctx.Done():
	}
	l := t.locks
	l.mu.Lock()
	a := l.m[t.stream]
	for i, w := range a.waiters {
		if w == t.turn {
			a.waiters = append(a.waiters[:i], a.waiters[i+1:]...)
			l.mu.Unlock()
			return ctx.Err()
		}
	}
	l.mu.Unlock()
	// The turn came while ctx ended: it is ours, so pass it on.
	t.release()
	return ctx.Err()
}

// release hands the lock to the next waiter, or frees it.
func (t *ticket) release() {
	l := t.locks
	l.mu.Lock()
	defer l.mu.Unlock()
	a := l.m[t.stream]
	if len(a.waiters) > 0 {
		next := a.waiters[0]
		a.waiters[0] = nil
		a.waiters = a.waiters[1:]
		close(next)
		return
	}
	delete(l.m, t.stream)
}

// size is the number of aggregates with a holder or waiters (tests).
func (l *aggregateLocks) size() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.m)
}
