package engine

import (
	"fmt"
	"runtime/debug"
	"time"
)

// Leader-based group commit.
//
// The tail of the log is owned by whoever holds the commit token
// (writer.leading), never by two goroutines at once. An Append queues its
// request and, if nobody holds the token, takes it and commits the queue in
// its own goroutine: one client appending alone pays for its write and
// fsync and nothing else, without handing the request to another goroutine
// and being woken back (two scheduler hand-offs per append, which cost as
// much as a fast fsync on a small machine). While a holder commits, later
// appends queue up and wait. When the holder is done it answers its batch
// and passes the token to the request at the head of the queue, whose
// caller wakes (it had to wake anyway to be answered), commits everything
// queued by then as the next batch, and so on: group commit at high
// concurrency is unchanged, only the goroutine that runs it changes.
//
// Invariants (all under writer.mu):
//
//   - queue non-empty ⇒ leading: whoever queues either takes the token or
//     finds it held, and the holder passes it on while anything is queued.
//     So no request waits without someone bound to commit it.
//   - The token goes to a waiting request only while that request is still
//     queued (unanswered), and its caller, woken with lead set, commits a
//     queue that holds its own request: it returns answered after one pass.
//   - A waiting caller never leaves before its answer (Append does not
//     watch ctx once queued): it might be handed the token, and it must not
//     drop it.
//
// The background goroutine (background) holds no state of its own: for an
// interval fsync or a probe of a full file system it asks for the token
// (it goes first at the next hand-off: bgWant), does the work, and passes
// the token on like any holder. Each holder tells it, as it hands the
// token on, when it has something to wait for (handOff: syncAt, probeAt).
//
// Order of the wake-ups: a holder answers its batch first and hands the
// token on last. The goroutine readied last runs next on this CPU (Go's
// runnext slot), so the next leader starts the next batch as soon as the
// old one's caller blocks, ahead of the callers it just answered. Close takes the token the same
// way after the background goroutine has stopped and commits what is still
// queued.

// submit queues r and returns once r is answered (res and err final).
func (w *writer) submit(r *appendReq) error {
	w.mu.Lock()
	if w.stopping {
		w.mu.Unlock()
		return ErrClosed
	}
	w.queue = append(w.queue, r)
	if w.leading {
		w.mu.Unlock()
		<-r.done
		if !r.lead {
			return nil // answered by a holder
		}
		r.lead = false // handed the token: r is still queued
	} else {
		w.leading = true
		w.mu.Unlock()
	}
	w.pass()
	w.handOff()
	<-r.done // the pass answered r (done is buffered)
	return nil
}

// pass commits the next batch of the queue (cut: as many requests from the
// head as fit in the batch limits), answering its requests, and reports
// whether requests remain queued. Only the token holder calls it. One batch
// a pass: the holder's caller answers for its own batch only, and the next
// batch is the next holder's (a caller committing a whole split queue
// waited for every batch's fsync in it). A panic here would leave the token
// held and every later append waiting; as when a writer goroutine of its
// own did this, it ends the process (the caller may be an HTTP handler,
// whose panics net/http would otherwise recover).
func (w *writer) pass() (more bool) {
	ok := false
	defer func() {
		if !ok {
			v := recover()
			stack := debug.Stack()
			go func() { panic(fmt.Sprintf("engine: panic while committing appends: %v\n%s", v, stack)) }()
			select {} // the process is ending; the token is never released
		}
	}()
	w.mu.Lock()
	q := w.queue
	var batch []*appendReq
	if len(q) > 0 {
		n := w.cut(q)
		batch = append(w.spare[:0], q[:n]...)
		m := copy(q, q[n:]) // the rest to the front: the array is reused
		clear(q[m:])        // and keeps no answered request
		w.queue = q[:m]
		more = m > 0
	}
	w.mu.Unlock()
	if len(batch) > 0 {
		w.commit(batch)
		clear(batch)
		w.spare = batch[:0] // token holder only
	}
	if w.intervalSyncPending() && time.Since(w.lastSync) >= w.s.opts.FsyncInterval {
		w.sync(nil)
	}
	ok = true
	return more
}

// handOff passes the token on: to the background goroutine if it asked,
// else to the head of the queue, else nobody (the next Append takes it).
// It also tells the background goroutine what it has to wait for.
func (w *writer) handOff() {
	var syncAt, probeAt time.Time
	if w.intervalSyncPending() {
		syncAt = w.lastSync.Add(w.s.opts.FsyncInterval)
	}
	if w.s.full.Load() != nil {
		probeAt = w.nextProbe
	}
	w.mu.Lock()
	kick := !syncAt.Equal(w.syncAt) || !probeAt.Equal(w.probeAt)
	w.syncAt, w.probeAt = syncAt, probeAt
	switch {
	case w.bgWant:
		w.bgWant = false
		w.bgTurn <- struct{}{} // cap 1, one asker at a time: never blocks
	case len(w.queue) > 0:
		head := w.queue[0]
		head.lead = true
		head.done <- struct{}{} // unanswered, so its buffer is free
	default:
		w.leading = false
	}
	w.mu.Unlock()
	if kick {
		select {
		case w.bgKick <- struct{}{}:
		default:
		}
	}
}

// acquire takes the token for a goroutine that has no request of its own
// (the background goroutine, Close), waiting for the holder to pass it.
func (w *writer) acquire() {
	w.mu.Lock()
	if !w.leading {
		w.leading = true
		w.mu.Unlock()
		return
	}
	w.bgWant = true
	w.mu.Unlock()
	<-w.bgTurn
}

// background fsyncs under FsyncInterval when nobody commits, and probes a
// full file system for room (unavailable.go), at the times the last holder
// published. It runs until stop.
func (w *writer) background() {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		w.mu.Lock()
		at := w.syncAt
		if !w.probeAt.IsZero() && (at.IsZero() || w.probeAt.Before(at)) {
			at = w.probeAt
		}
		w.mu.Unlock()
		var timer <-chan time.Time
		if !at.IsZero() {
			if d := time.Until(at); d > 0 {
				t.Reset(d)
				timer = t.C
			} else {
				timer = closedTimeC
			}
		}
		select {
		case <-w.bgStop:
			return
		case <-w.bgKick:
			t.Stop()
			continue
		case <-timer:
		}
		w.acquire()
		w.backgroundWork()
		w.pass() // what queued while the token was asked for
		w.handOff()
	}
}

// closedTimeC fires at once: background work already due.
var closedTimeC = func() <-chan time.Time {
	c := make(chan time.Time)
	close(c)
	return c
}()

// backgroundWork is the token holder's idle duty besides what pass does
// (the interval fsync, after committing what queued): the probe of a full
// file system, when due.
func (w *writer) backgroundWork() {
	if w.s.full.Load() != nil {
		w.probeIfDue()
	}
}

// intervalSyncPending reports whether written data waits for an interval
// fsync. After a sticky failure nothing is fsynced again: retrying a
// failed fsync proves nothing, and would keep the background goroutine
// busy.
func (w *writer) intervalSyncPending() bool {
	return w.s.opts.Fsync == FsyncInterval && w.dirty && w.s.failed.Load() == nil
}

// stop refuses new appends and ends the background goroutine; Close then
// waits for it (Store.bg) and calls drain.
func (w *writer) stop() {
	w.mu.Lock()
	w.stopping = true
	w.mu.Unlock()
	close(w.bgStop)
}

// drain takes the token for good and commits what is still queued, batch
// by batch (no request can queue after stop), then waits for a running checkpoint.
func (w *writer) drain() {
	w.acquire()
	for w.pass() {
	}
	w.waitCheckpoint()
}
