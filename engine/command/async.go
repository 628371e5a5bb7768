package command

import (
	"errors"
	"sync"
	"time"

	"github.com/eventd/eventd/engine"
)

// Async commands: Submit records CommandAccepted and queues the command;
// Options.Workers goroutines run the queue. The queue holds only where the
// command's record is (its data is read back when it runs), so a backlog
// costs a few dozen bytes per command; Open queues the commands a crash or
// shutdown interrupted the same way.

// queued is an accepted command waiting to run.
type queued struct {
	id     string
	ver    uint64 // its CommandAccepted in $commands
	stream string // its aggregate as planned when queued ("" if the plan failed)
	// tk is its place in the aggregate's queue, taken when it was accepted:
	// a command sent later (sync or async) cannot overtake it.
	tk *ticket
}

// queue is a FIFO of accepted commands.
type queue struct {
	mu    sync.Mutex
	items []queued
	// wake holds a token while the queue may be non-empty; a worker that
	// takes an item passes the token on if more are left.
	wake chan struct{}
}

func newQueue() *queue { return &queue{wake: make(chan struct{}, 1)} }

func (q *queue) push(it queued) { q.pushPlaced(it, nil) }

// pushPlaced queues it and, in the same step, takes its place in its
// aggregate's queue (with locks, when it has an aggregate): so the order of
// the queue is the order of the places, and a worker never waits for a
// place whose command is still queued behind it (with one worker, that
// would wait for ever).
func (q *queue) pushPlaced(it queued, locks *aggregateLocks) {
	q.mu.Lock()
	if locks != nil && it.stream != "" {
		it.tk = locks.enqueue(it.stream)
	}
	q.items = append(q.items, it)
	q.mu.Unlock()
	q.signal()
}

func (q *queue) signal() {
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// worker runs queued commands until Close.
func (s *Service) worker() {
	defer s.wg.Done()
	for {
		it, tk, ok := s.next()
		if !ok {
			select {
			case <-s.queue.wake:
				continue
			case <-s.ctx.Done():
				return
			}
		}
		s.runQueued(it, tk)
		if s.ctx.Err() != nil {
			return
		}
	}
}

// next takes the oldest queued command and, in the same step, its place in
// its aggregate's queue: commands on one aggregate then run in the order
// they were accepted, whichever worker takes them.
func (s *Service) next() (queued, *ticket, bool) {
	q := s.queue
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.items) == 0 || s.ctx.Err() != nil {
		return queued{}, nil, false
	}
	it := q.items[0]
	q.items[0] = queued{}
	q.items = q.items[1:]
	if len(q.items) == 0 {
		q.items = nil // let the backing array go
	} else {
		q.signal()
	}
	tk := it.tk
	if tk == nil && it.stream != "" {
		tk = s.locks.enqueue(it.stream)
	}
	return it, tk, true
}

// runQueued runs one accepted command. Whatever stops it short of a
// record (Close, a storage error) leaves it pending in $commands: it runs
// after the next Open, never silently dropped.
func (s *Service) runQueued(it queued, tk *ticket) {
	release := func() {
		if tk != nil {
			tk.release()
			tk = nil
		}
	}
	defer release()
	if tk != nil && tk.wait(s.ctx) != nil {
		tk = nil // closing: the place was given up
		return
	}
	if e, known, _ := s.table.get(it.id); !known || e.status().Final() {
		return
	}
	st, err := s.readRecord(it.ver)
	if err != nil {
		s.logger.Error("commands: cannot read an accepted command; it stays pending", "id", it.id, "err", err)
		return
	}
	j, err := s.jobOf(st)
	if err == nil && j.req.ID != it.id {
		err = collision(it.id, j.req.ID)
	}
	if err != nil {
		s.logger.Error("commands: cannot decode an accepted command; it stays pending", "id", it.id, "err", err)
		return
	}
	var ok bool
	if j.h, ok = s.handler(j.req.Type); !ok {
		s.finishFailed(j, ruleBroken("no handler for commandType "+quoteShort(j.req.Type)+" when the command ran"))
		return
	}
	stream, reason := j.h.plan(j.data)
	if reason != "" {
		s.finishFailed(j, ruleBroken(reason))
		return
	}
	j.stream = stream
	if tk == nil || tk.stream != stream {
		// Its handler changed since it was queued: take the right place.
		release()
		tk = s.locks.enqueue(stream)
		if tk.wait(s.ctx) != nil {
			tk = nil
			return
		}
	}
	s.table.setStatus(it.id, Processing)
	if err := s.whileRecoverable(func() error { _, err := s.execute(j); return err }); err != nil {
		s.table.setStatus(it.id, Pending)
		s.logger.Error("commands: an async command could not be written (the store failed or is closing); it stays pending until the next start", "id", it.id, "err", err)
	}
}

func (s *Service) finishFailed(j *job, f *Failure) {
	if err := s.whileRecoverable(func() error { _, err := s.fail(j, f); return err }); err != nil {
		s.logger.Error("commands: cannot record an async command's failure; it stays pending", "id", j.req.ID, "err", err)
	}
}

// Waits between tries of an async command the store could not write for
// a passing reason.
const (
	retryFirst = 100 * time.Millisecond
	retryMax   = 5 * time.Second
)

// whileRecoverable runs write until it succeeds or fails for good. A
// failure that wrote nothing and passes by itself (engine.FailedError
// Recoverable: a full disk until space is freed, a file that could not be
// opened at a segment roll) is tried again after a wait, keeping the
// command's place in its aggregate's queue: left pending, it would wait
// for the next start while later commands on its aggregate overtook it.
// It returns the last error (the store failed for good, or Close).
func (s *Service) whileRecoverable(write func() error) error {
	wait := retryFirst
	for {
		err := write()
		var fe *engine.FailedError
		if err == nil || !errors.As(err, &fe) || !fe.Recoverable {
			return err
		}
		s.logger.Warn("commands: the store could not take an async command for now; trying again", "in", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-s.ctx.Done():
			t.Stop()
			return err
		}
		wait = min(2*wait, retryMax)
	}
}
