package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Run executes the load described by cfg (already validated, URL set)
// against the daemon and returns the report. Progress lines go to progress
// once a second unless cfg.Quiet. Cancelling ctx ends the current phase
// early; the report then covers what was done.
func Run(ctx context.Context, cfg Config, progress io.Writer) (*Report, error) {
	if cfg.URL == "" {
		return nil, errors.New("bench: no URL")
	}
	if cfg.RunID == "" {
		cfg.RunID = newRunID()
	}
	r := newRunner(cfg, progress)
	defer r.closeClients()
	rep := &Report{
		RunID:      cfg.RunID,
		URL:        cfg.URL,
		StartedAt:  time.Now().UTC(),
		GoMaxProcs: runtime.GOMAXPROCS(0),
		NumCPU:     runtime.NumCPU(),
		Config:     cfg,
	}
	if !cfg.Read {
		ph, err := r.runPhase(ctx, "append", bound{cfg.Duration, cfg.Events, 0}, &appendOp{batch: cfg.Batch, single: cfg.Batch == 1})
		if err != nil {
			return nil, err
		}
		rep.Phases = append(rep.Phases, ph)
		rep.LoadAvg = loadAvg()
		return rep, nil
	}

	seed, err := r.seed(ctx)
	if err != nil {
		return nil, err
	}
	if seed != nil {
		rep.Phases = append(rep.Phases, *seed)
	}
	phases := []struct {
		name    string
		op      op
		loop    looper
		streams bool // needs read streams
	}{
		{"read-stream", &streamReadOp{limit: cfg.Limit}, nil, true},
		{"read-all", &allReadOp{limit: cfg.Limit}, nil, false},
		{"replay", &replayOp{}, nil, true},
		{"sse-all", nil, &sseOp{}, false},
		{"sse-stream", nil, &sseOp{stream: true}, true},
	}
	for _, p := range phases {
		if ctx.Err() != nil {
			break
		}
		if p.streams && len(r.workers[0].readStreams) == 0 {
			fmt.Fprintf(r.progress, "bench: no streams to read, skipping %s\n", p.name)
			continue
		}
		if p.name == "sse-all" && r.head == 0 {
			fmt.Fprintf(r.progress, "bench: the store is empty, skipping %s\n", p.name)
			continue
		}
		b := bound{cfg.Duration, cfg.Events, 0}
		var ph PhaseResult
		var err error
		if p.loop != nil {
			ph, err = r.runLoopPhase(ctx, p.name, b, p.loop)
		} else {
			ph, err = r.runPhase(ctx, p.name, b, p.op)
		}
		if err != nil {
			return nil, err
		}
		rep.Phases = append(rep.Phases, ph)
	}
	rep.LoadAvg = loadAvg()
	return rep, nil
}

func newRunner(cfg Config, progress io.Writer) *runner {
	if cfg.Quiet || progress == nil {
		progress = io.Discard
	}
	r := &runner{cfg: cfg, progress: progress, bodies: newBodies(cfg.Size)}
	r.workers = make([]*worker, cfg.Concurrency)
	for k := range r.workers {
		w := &worker{id: k, hist: NewHistogram(), errs: map[string]int64{}}
		for j := range cfg.Streams {
			w.streams = append(w.streams, newStreamState(fmt.Sprintf("bench-%s-w%d-s%d", cfg.RunID, k, j), 0))
		}
		r.workers[k] = w
	}
	return r
}

func (r *runner) closeClients() {
	for _, w := range r.workers {
		if w.cl != nil {
			w.cl.close()
			w.cl = nil
		}
	}
}

// seed prepares the read phases: with cfg.Seed > 0 it appends that many
// events over every worker's streams (at most 1000 a request) and returns
// that phase; with 0 it lists the streams already in the store. Either way
// it spreads the streams and $all start positions over the workers.
func (r *runner) seed(ctx context.Context) (*PhaseResult, error) {
	cfg := r.cfg
	var ph *PhaseResult
	var streams []*streamState
	if cfg.Seed > 0 {
		nstreams := int64(cfg.Concurrency * cfg.Streams)
		per := int(min(1000, (cfg.Seed+nstreams-1)/nstreams))
		p, err := r.runPhase(ctx, "seed", bound{0, cfg.Seed, 0}, &appendOp{batch: per, single: false})
		if err != nil {
			return nil, err
		}
		if p.Errors > 0 {
			fmt.Fprintf(r.progress, "bench: seeding had %d errors\n", p.Errors)
		}
		ph = &p
		for _, w := range r.workers {
			for _, s := range w.streams {
				if s.version > 0 {
					streams = append(streams, s)
				}
			}
		}
	} else {
		found, err := discoverStreams(cfg)
		if err != nil {
			return nil, err
		}
		streams = found
	}
	r.assignReadStreams(streams)
	head, err := fetchHead(cfg)
	if err != nil {
		return nil, err
	}
	r.head = head
	for k, w := range r.workers { // spread the $all readers over the log
		w.allFrom = head * uint64(k) / uint64(len(r.workers))
	}
	return ph, nil
}

// runRequests runs exactly n requests of o (for go test -bench).
func (r *runner) runRequests(ctx context.Context, name string, n int64, o op) (PhaseResult, error) {
	return r.runPhase(ctx, name, bound{0, 0, n}, o)
}

func newRunID() string {
	var b [4]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// streamState is what a worker knows about one stream.
type streamState struct {
	id         string
	appendPath []byte // /api/streams/{id}/events
	readPath   []byte // /api/events/{id}
	replayPath []byte // /api/events/{id}/replay
	version    uint64 // current version, as far as this worker knows
}

func newStreamState(id string, version uint64) *streamState {
	return &streamState{
		id:         id,
		appendPath: []byte("/api/streams/" + id + "/events"),
		readPath:   []byte("/api/events/" + id),
		replayPath: []byte("/api/events/" + id + "/replay"),
		version:    version,
	}
}

// counters are read by the progress line while a worker updates them.
type counters struct {
	events   atomic.Int64
	requests atomic.Int64
	errors   atomic.Int64
	_        [40]byte // keep workers' counters on separate cache lines
}

// worker runs one connection's requests, strictly one at a time.
type worker struct {
	id   int
	cl   client
	ctr  counters
	hist *Histogram       // latency of successful requests
	errs map[string]int64 // failed requests by HTTP status or "transport"

	body []byte // request body, reused
	path []byte // request path, reused

	// append state
	streams []*streamState
	next    int
	cur     *streamState
	curN    int

	// read state
	readStreams []*streamState
	readNext    int
	readFrom    uint64
	allFrom     uint64
}

// op is one kind of request a phase repeats.
type op interface {
	// prepare builds the next request; false when the phase's event budget
	// is spent.
	prepare(r *runner, w *worker) (method string, path, body []byte, ok bool)
	// done interprets a response: events completed, and whether it counts
	// as a success (else it is an error, by status code).
	done(w *worker, status int, resp []byte) (events int, ok bool)
}

// runner runs phases over the workers.
type runner struct {
	cfg      Config
	progress io.Writer
	workers  []*worker
	bodies   *bodies // constant body parts, shared read-only
	head     uint64  // --read: the head position after seeding

	stop        atomic.Bool  // set when the phase must end
	count       bool         // the phase is bounded by an event count
	budget      atomic.Int64 // events left to claim (append phases)
	eventTarget int64        // events to complete (read phases)
	events      atomic.Int64 // events completed in the phase
	reqLimited  bool         // the phase is bounded by a request count
	reqBudget   atomic.Int64 // requests left to send
}

// claim takes up to n events from the budget (all n when there is none).
func (r *runner) claim(n int) int {
	if !r.count {
		return n
	}
	for {
		left := r.budget.Load()
		if left <= 0 {
			return 0
		}
		take := min(int64(n), left)
		if r.budget.CompareAndSwap(left, left-take) {
			return int(take)
		}
	}
}

// readBudgetLeft reports whether a read phase bounded by count should go on.
func (r *runner) readBudgetLeft() bool {
	return !r.count || r.events.Load() < r.eventTarget
}

func (r *runner) assignReadStreams(all []*streamState) {
	for k, w := range r.workers {
		w.readStreams = w.readStreams[:0]
		for i := k; i < len(all); i += len(r.workers) {
			w.readStreams = append(w.readStreams, all[i])
		}
		if len(w.readStreams) == 0 && len(all) > 0 {
			w.readStreams = append(w.readStreams, all[k%len(all)])
		}
		w.readNext, w.readFrom = 0, 0
	}
}

// bound says when a phase ends: after duration, or (duration 0) once
// events are done, or once requests have been sent; never past
// cfg.MaxDuration.
type bound struct {
	duration time.Duration
	events   int64
	requests int64
}

// looper is a phase whose workers run their own loop instead of
// request/response pairs (SSE subscriptions). ctx ends when the phase does
// (its bound, its hard end, or the run's ctx).
type looper interface {
	loop(ctx context.Context, r *runner, w *worker)
}

// runPhase runs o on every worker until the phase's bound is reached.
func (r *runner) runPhase(ctx context.Context, name string, b bound, o op) (PhaseResult, error) {
	return r.runPhaseWith(ctx, name, b, func(_ context.Context, w *worker) { r.work(w, o) })
}

// runLoopPhase runs l on every worker until the phase's bound is reached.
func (r *runner) runLoopPhase(ctx context.Context, name string, b bound, l looper) (PhaseResult, error) {
	return r.runPhaseWith(ctx, name, b, func(ctx context.Context, w *worker) { l.loop(ctx, r, w) })
}

func (r *runner) runPhaseWith(ctx context.Context, name string, b bound, work func(ctx context.Context, w *worker)) (PhaseResult, error) {
	r.count = b.duration == 0 && b.requests == 0
	r.budget.Store(b.events)
	r.eventTarget = b.events
	r.events.Store(0)
	r.reqLimited = b.requests > 0
	r.reqBudget.Store(b.requests)
	r.stop.Store(false)
	hard := r.cfg.MaxDuration
	if b.duration > 0 {
		hard = b.duration
	}
	start := time.Now()
	end := start.Add(hard)
	for _, w := range r.workers {
		if w.cl != nil {
			w.cl.close()
		}
		cl, err := newClient(r.cfg.Client, r.cfg.URL, end.Add(10*time.Second))
		if err != nil {
			return PhaseResult{}, err
		}
		w.cl = cl
		w.hist = NewHistogram()
		clear(w.errs)
		w.ctr.events.Store(0)
		w.ctr.requests.Store(0)
		w.ctr.errors.Store(0)
	}
	cpu0 := cpuTime()

	// The stopper ends the phase at its deadline or when ctx is cancelled.
	phaseDone := make(chan struct{})
	stopperDone := make(chan struct{})
	timer := time.NewTimer(hard)
	phaseCtx, cancelPhase := context.WithCancel(ctx) // for loopers' requests
	defer cancelPhase()
	go func() {
		defer close(stopperDone)
		select {
		case <-timer.C:
		case <-ctx.Done():
		case <-phaseDone:
		}
		r.stop.Store(true)
		cancelPhase()
	}()
	defer timer.Stop()

	progressDone := make(chan struct{})
	go r.progressLoop(name, start, phaseDone, progressDone)

	var wg sync.WaitGroup
	for _, w := range r.workers {
		wg.Go(func() { work(phaseCtx, w) })
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(phaseDone)
	<-progressDone
	<-stopperDone

	ph := PhaseResult{Name: name, hist: NewHistogram(), ErrorsByKind: map[string]int64{}}
	for _, w := range r.workers {
		ph.Events += w.ctr.events.Load()
		ph.Requests += w.ctr.requests.Load()
		ph.Errors += w.ctr.errors.Load()
		ph.hist.Merge(w.hist)
		for k, v := range w.errs {
			ph.ErrorsByKind[k] += v
		}
	}
	ph.finish(elapsed, cpuTime()-cpu0)
	return ph, nil
}

func (r *runner) work(w *worker, o op) {
	for !r.stop.Load() {
		if r.reqLimited && r.reqBudget.Add(-1) < 0 {
			return
		}
		method, path, body, ok := o.prepare(r, w)
		if !ok {
			r.stop.Store(true)
			return
		}
		t0 := time.Now()
		status, resp, err := w.cl.do(method, path, body)
		lat := time.Since(t0)
		w.ctr.requests.Add(1)
		if err != nil {
			w.errs["transport"]++
			w.ctr.errors.Add(1)
			if !r.stop.Load() {
				time.Sleep(10 * time.Millisecond) // do not spin on a dead server
			}
			continue
		}
		n, good := o.done(w, status, resp)
		if !good {
			w.errs[strconv.Itoa(status)]++
			w.ctr.errors.Add(1)
			continue
		}
		w.hist.Record(lat)
		w.ctr.events.Add(int64(n))
		r.events.Add(int64(n))
	}
}

// progressLoop prints one line a second: events/s over the last second,
// errors so far, elapsed time.
func (r *runner) progressLoop(name string, start time.Time, done <-chan struct{}, exited chan<- struct{}) {
	defer close(exited)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var lastEvents int64
	last := start
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			var ev, errs int64
			for _, w := range r.workers {
				ev += w.ctr.events.Load()
				errs += w.ctr.errors.Load()
			}
			rate := float64(ev-lastEvents) / now.Sub(last).Seconds()
			fmt.Fprintf(r.progress, "bench: %-11s %10.0f events/s  %12d events  %6d errors  %6.1fs elapsed\n",
				name, rate, ev, errs, now.Sub(start).Seconds())
			lastEvents, last = ev, now
		}
	}
}
