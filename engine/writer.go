package engine

import (
	"fmt"
	"sync"
	"time"

	"github.com/eventd/eventd/index"
	"github.com/eventd/eventd/segment"
)

// appendReq is one Append call waiting for the writer.
type appendReq struct {
	streamID string
	expected ExpectedVersion
	events   []Proposed
	gen      []bool // gen[i]: events[i].ID was made by the store (nil: none was)
	genBuf   []bool // spare backing array for gen (pooled requests)
	bytes    int    // encoded size estimate of the whole request (every part)
	nevents  int    // events of the whole request (every part)
	// more are the other parts of an AppendMulti: written with this one
	// or not at all, each to its own stream with its own expected version.
	// Only the first part is queued and answered.
	more  []*appendReq
	multi bool // an AppendMulti (even of one part): prepareMulti's rules

	res  AppendResult
	err  error
	done chan struct{} // receives when res/err are final, or with lead set
	// lead: the token holder handed this (still queued) request's caller
	// the commit token (leader.go). Set before done receives.
	lead bool
}

// writer owns the tail of the log. Its commit code runs in whichever
// goroutine holds the commit token (leader.go): an appending goroutine
// that found nobody committing, the caller of a queued request the token
// was handed to, the background goroutine (interval fsync, probes of a
// full file system) or Close. One holder at a time; the state below the
// queue is the holder's.
//
// Ordering guarantee. Appends are handled strictly in the order they were
// queued. For each batch the token holder
//
//  1. takes one timestamp (before any validation, so validation is a pure
//     function of the queue and the index),
//  2. checks event ids and expected versions and assigns versions and
//     positions, request by request, against the index plus the effect of
//     the batch's earlier requests,
//  3. writes every accepted event as one frame with one write,
//  4. fsyncs once (FsyncAlways),
//  5. applies the batch to the index and the dedupe table,
//  6. publishes the new visible head (readers see nothing before this), and
//  7. answers every request of the batch.
//
// A failed fsync, or a failed write the log cannot take back, is sticky:
// the batch's requests and every later one fail with it, and nothing is
// acknowledged after it. A write that provably wrote nothing (a segment
// that could not be created at a roll, a file system without room) fails
// only its batch, and the next batch gets the same positions; while the
// file system is full, appends are refused until a probe finds room
// (unavailable.go). While the holder is busy with one batch, the next one
// fills up in the queue, and the head of that queue commits it next.
type writer struct {
	s *Store

	mu       sync.Mutex
	queue    []*appendReq
	spare    []*appendReq // the token holder's batch (pass)
	stopping bool
	leading  bool          // the commit token is held (leader.go)
	bgWant   bool          // the background goroutine or Close waits for the token
	bgTurn   chan struct{} // cap 1: the token is handed to the one that set bgWant
	bgKick   chan struct{} // cap 1: syncAt or probeAt changed
	bgStop   chan struct{} // closed by stop
	// syncAt and probeAt: when the background goroutine must take the token
	// for an interval fsync and for a probe of a full file system (zero:
	// nothing to do). Published by each holder as it hands the token on.
	syncAt, probeAt time.Time

	// Below: owned by the token holder.
	dd         *dedupe
	b          segment.Batch
	entries    []index.Entry
	types      []string          // types[i]: the event type of entries[i] (typeMarks)
	rels       []uint32          // frame-relative offset of each entry
	pending    map[string]uint64 // stream → version after this batch's earlier requests
	batchIDs   map[uint64]idRef  // dedupe keys of this batch's accepted events
	newKeys    []ddEntry         // dedupe entries to add once the batch is durable
	keyBuf     []byte
	lastTS     int64
	dirty      bool // written but not fsynced
	lastSync   time.Time
	sinceCkpt  int
	ckptActive bool
	ckptDone   chan error

	// While the file system is full (s.full): when to probe next, and the
	// wait after that (unavailable.go).
	nextProbe time.Time
	probeWait time.Duration
	// Appends not written for a passing reason (EMFILE at a roll): how many
	// since the last log line, when that was, and whether the last batch
	// failed so (the first success after is logged).
	notWrittenCount  int
	notWrittenLogged time.Time
	notWrittenStreak bool
}

type idRef struct {
	req *appendReq
	idx int
}

func newWriter(s *Store, dd *dedupe) *writer {
	return &writer{
		s:        s,
		bgTurn:   make(chan struct{}, 1),
		bgKick:   make(chan struct{}, 1),
		bgStop:   make(chan struct{}),
		dd:       dd,
		pending:  make(map[string]uint64),
		batchIDs: make(map[uint64]idRef),
		lastSync: time.Now(),
		ckptDone: make(chan error, 1),
	}
}

// cut returns how many requests from q form the next batch: at least one,
// then as many as fit in MaxBatchBytes and MaxBatchEvents.
func (w *writer) cut(q []*appendReq) int {
	bytes, events := q[0].bytes, q[0].nevents
	n := 1
	for n < len(q) {
		r := q[n]
		if bytes+r.bytes > w.s.opts.MaxBatchBytes || events+r.nevents > w.s.opts.MaxBatchEvents {
			break
		}
		bytes += r.bytes
		events += r.nevents
		n++
	}
	return n
}

// commit handles one batch: validate, write, fsync, index, publish, answer.
func (w *writer) commit(reqs []*appendReq) {
	s := w.s
	defer func() {
		w.resetBatch()
		for _, r := range reqs {
			r.done <- struct{}{}
		}
	}()
	if s.full.Load() != nil {
		w.probeIfDue()
	}
	if f := s.refusing(); f != nil {
		answerFailed(reqs, f)
		return
	}

	ts := time.Now().UnixNano()
	if ts < w.lastTS {
		ts = w.lastTS // timestamps never go backwards in the log
	}
	w.lastTS = ts
	w.dd.expire(ts)

	head := s.head.Load()
	next := head + 1
	w.b.Reset(next)
	appends := 0
	for _, r := range reqs {
		w.prepare(r, &next, ts)
		if r.err == nil && !r.res.Duplicate {
			appends++
		}
	}

	bytes := 0
	if w.b.Count() > 0 {
		bytes = w.b.Bytes()
		seg, off, err := s.log.Write(&w.b)
		if err != nil {
			w.writeFailed(err, reqs)
			return
		}
		if w.notWrittenStreak {
			w.writtenAgain()
		}
		for i := range w.entries {
			w.entries[i].Loc = segment.MakeLoc(seg, off+int64(w.rels[i]))
		}
		w.dirty = true
	}
	var fsync time.Duration
	if w.dirty && s.opts.Fsync == FsyncAlways {
		t0 := time.Now()
		if !w.sync(reqs) {
			return
		}
		fsync = time.Since(t0)
	}
	if len(w.entries) > 0 {
		s.ix.Apply(w.entries)
		s.types.note(w.entries[0].Pos, w.types) // before the head moves
		for _, k := range w.newKeys {
			w.dd.add(k.key, k.pos, k.ts)
		}
		s.head.Store(next - 1)
		s.headMoved.Notify()
		s.woken.Store(s.headSubs.Load() + int64(s.types.signal()))
		s.stats.batches.Add(1)
		s.stats.events.Add(uint64(len(w.entries)))
		s.stats.bytes.Add(uint64(bytes))
		s.stats.appends.Add(uint64(appends))
		w.sinceCkpt += len(w.entries)
	}
	if o := s.opts.Observer; o != nil && (len(w.entries) > 0 || fsync > 0) {
		o.Batch(appends, len(w.entries), bytes, fsync)
	}
	w.maybeCheckpoint()
}

// resetBatch drops what prepare built for a batch (written or not), so
// that nothing refers to its requests once they are answered (they go back
// to a pool) and the next batch starts empty.
func (w *writer) resetBatch() {
	clear(w.entries) // stream ids of the requests
	clear(w.types)
	w.entries, w.rels, w.newKeys, w.types = w.entries[:0], w.rels[:0], w.newKeys[:0], w.types[:0]
	clear(w.pending)
	clear(w.batchIDs)
}

// sync fsyncs the log; on failure it makes the error sticky and fails reqs.
func (w *writer) sync(reqs []*appendReq) bool {
	if err := w.s.log.Sync(); err != nil {
		w.fail(fmt.Errorf("fsync: %w", err), reqs)
		return false
	}
	w.s.stats.fsyncs.Add(1)
	w.dirty = false
	w.lastSync = time.Now()
	return true
}

// fail makes err sticky and fails every request of the batch: nothing of it
// is acknowledged (the frame may be on disk; recovery decides what stays).
func (w *writer) fail(err error, reqs []*appendReq) {
	f := &FailedError{Err: err}
	if w.s.failed.CompareAndSwap(nil, f) {
		w.s.logger.Error("store failed: appends refused until restart", "err", err)
	}
	answerFailed(reqs, w.s.failed.Load())
}

// answerFailed fails every request of a batch with f; none keeps a result.
func answerFailed(reqs []*appendReq, f *FailedError) {
	for _, r := range reqs {
		r.err = f
		r.res = AppendResult{}
		for _, p := range r.more {
			p.res = AppendResult{}
		}
	}
}
