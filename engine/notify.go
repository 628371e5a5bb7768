package engine

import (
	"context"
	"sync/atomic"
)

// Notifier lets many goroutines wait for the next change of something (the
// store's head; a projection's progress): Wait returns a channel that the
// next Notify closes. Take the channel before looking at the state, then
// wait on it only if the state is not yet what you want, so a change
// between the look and the wait is never missed:
//
//	for {
//		ch := n.Wait()
//		if done() {
//			return
//		}
//		<-ch
//	}
//
// The zero value is ready to use. Notify never blocks and costs nothing
// when nobody waits.
type Notifier struct {
	// ch is the channel the next Notify closes; nil until someone waits.
	// Lock-free: with a thousand subscribers waking at every commit, a
	// mutex here was where they queued.
	ch atomic.Pointer[chan struct{}]
}

// Wait returns a channel closed at the next Notify.
func (n *Notifier) Wait() <-chan struct{} {
	for {
		if p := n.ch.Load(); p != nil {
			return *p
		}
		c := make(chan struct{})
		if n.ch.CompareAndSwap(nil, &c) {
			return c
		}
	}
}

// Notify wakes every goroutine waiting on a channel from Wait. A waiter
// whose channel is made after Notify took the old one looks at the state
// after the change (the change is made before Notify), so none is missed.
func (n *Notifier) Notify() {
	if p := n.ch.Swap(nil); p != nil {
		close(*p)
	}
}

// WaitUntil blocks until cond() holds, re-checking it after each Notify,
// or until ctx ends (then it returns ctx.Err()).
func (n *Notifier) WaitUntil(ctx context.Context, cond func() bool) error {
	for {
		ch := n.Wait()
		if cond() {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// HeadMoved returns a channel closed the next time the visible head moves.
// Take it before reading Head (see Notifier).
func (s *Store) HeadMoved() <-chan struct{} { return s.headMoved.Wait() }

// WaitHead blocks until the visible head is at least pos (every event up
// to pos is durable and readable), ctx ends, or the store closes.
func (s *Store) WaitHead(ctx context.Context, pos uint64) error {
	for {
		ch := s.headMoved.Wait()
		if s.Head() >= pos {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-s.closed:
			return ErrClosed
		}
	}
}
