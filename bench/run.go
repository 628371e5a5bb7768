package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
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
	defer r.deleteProjections()
	rep := &Report{
		RunID:      cfg.RunID,
		URL:        cfg.URL,
		StartedAt:  time.Now().UTC(),
		GoMaxProcs: runtime.GOMAXPROCS(0),
		NumCPU:     runtime.NumCPU(),
		Config:     cfg,
		EventType:  r.bodies.typ,
	}
	var err error
	switch r.mode() {
	case ModeRead:
		err = r.runRead(ctx, rep)
	case ModeCommands:
		err = r.runCommands(ctx, rep)
	case ModeProjection:
		err = r.runProjection(ctx, rep)
	case ModeRYW:
		err = r.runRYW(ctx, rep)
	case ModeQuery:
		err = r.runQuery(ctx, rep)
	default:
		err = r.runAppend(ctx, rep)
	}
	if err != nil {
		return nil, err
	}
	rep.LoadAvg = loadAvg()
	return rep, nil
}

// mode is the run's mode (Config.Validate fills it in; a Config that was
// not validated means append, or read with Read).
func (r *runner) mode() string {
	switch {
	case r.cfg.Read:
		return ModeRead
	case r.cfg.Mode == "":
		return ModeAppend
	}
	return r.cfg.Mode
}

// runAppend is --mode append: one phase of appends, after registering the
// schema with --schema.
func (r *runner) runAppend(ctx context.Context, rep *Report) error {
	cfg := r.cfg
	if cfg.Schema {
		if err := r.registerSchema(ctx); err != nil {
			return err
		}
	}
	ph, err := r.runPhase(ctx, "append", bound{duration: cfg.Duration, events: cfg.Events}, &appendOp{batch: cfg.Batch, single: cfg.Batch == 1})
	if err != nil {
		return err
	}
	rep.Phases = append(rep.Phases, ph)
	return nil
}

// runRead is --mode read: seeding, then the five read phases.
func (r *runner) runRead(ctx context.Context, rep *Report) error {
	cfg := r.cfg
	seed, err := r.seed(ctx)
	if err != nil {
		return err
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
		b := bound{duration: cfg.Duration, events: cfg.Events}
		var ph PhaseResult
		var err error
		if p.loop != nil {
			ph, err = r.runLoopPhase(ctx, p.name, b, p.loop)
		} else {
			ph, err = r.runPhase(ctx, p.name, b, p.op)
		}
		if err != nil {
			return err
		}
		rep.Phases = append(rep.Phases, ph)
	}
	return nil
}

func newRunner(cfg Config, progress io.Writer) *runner {
	if cfg.Quiet || progress == nil {
		progress = io.Discard
	}
	typ := ""
	if cfg.Schema || cfg.SchemaFields {
		// A type of the run's own: the schema applies to this run only,
		// and a --schema-fields baseline surely has none.
		typ = typedEventType + cfg.RunID
	}
	r := &runner{cfg: cfg, progress: progress, bodies: newBodies(cfg.Size, typ, cfg.Schema || cfg.SchemaFields)}
	r.workers = make([]*worker, cfg.Concurrency)
	seed := uint64(time.Now().UnixNano())
	for k := range r.workers {
		w := &worker{id: k, hist: NewHistogram(), errs: map[string]int64{},
			userPrefix: fmt.Sprintf("bench-%s-w%d-", cfg.RunID, k),
			rng:        mrand.New(mrand.NewPCG(seed, uint64(k)))}
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
		p, err := r.seedAppends(ctx)
		if err != nil {
			return nil, err
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

// seedAppends appends cfg.Seed events over every worker's streams, at most
// 1000 a request.
func (r *runner) seedAppends(ctx context.Context) (PhaseResult, error) {
	cfg := r.cfg
	nstreams := int64(cfg.Concurrency * cfg.Streams)
	per := int(min(1000, (cfg.Seed+nstreams-1)/nstreams))
	p, err := r.runPhase(ctx, "seed", bound{events: cfg.Seed}, &appendOp{batch: per, single: false})
	if err == nil && p.Errors > 0 {
		fmt.Fprintf(r.progress, "bench: seeding had %d errors\n", p.Errors)
	}
	return p, err
}

// runRequests runs exactly n requests of o (for go test -bench).
func (r *runner) runRequests(ctx context.Context, name string, n int64, o op) (PhaseResult, error) {
	return r.runPhase(ctx, name, bound{requests: n}, o)
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

	// CQRS state
	userPrefix string       // bench-<runid>-w<k>-: user ids of commands, then seq
	seq        uint64       // commands sent
	rng        *mrand.Rand  // keys and groups of queries
	parts      []*Histogram // sub-latencies of a phase that records them (phaseSpec.parts)
	failKind   string       // set by op.done: the error kind of a failure that is not its status
	key        []byte       // reused
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
	active   []*worker // the workers of the current phase (a prefix of workers)
	bodies   *bodies   // constant body parts, shared read-only
	head     uint64    // --read: the head position after seeding

	projections []string // projections created by the run, deleted at its end

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
// cfg.MaxDuration. workers > 0 runs the phase on that many workers only.
type bound struct {
	duration time.Duration
	events   int64
	requests int64
	workers  int
}

// looper is a phase whose workers run their own loop instead of
// request/response pairs (SSE subscriptions). ctx ends when the phase does
// (its bound, its hard end, or the run's ctx).
type looper interface {
	loop(ctx context.Context, r *runner, w *worker)
}

// runPhase runs o on every worker until the phase's bound is reached.
func (r *runner) runPhase(ctx context.Context, name string, b bound, o op) (PhaseResult, error) {
	return r.runSpec(ctx, phaseSpec{name: name, b: b, work: func(_ context.Context, w *worker) { r.work(w, o) }})
}

// runLoopPhase runs l on every worker until the phase's bound is reached.
func (r *runner) runLoopPhase(ctx context.Context, name string, b bound, l looper) (PhaseResult, error) {
	return r.runSpec(ctx, phaseSpec{name: name, b: b, work: func(ctx context.Context, w *worker) { l.loop(ctx, r, w) }})
}

// phaseSpec is one phase: work runs on each of its workers; side, if
// any, runs beside them in a goroutine of its own until they are done (its
// ctx then ends) and is waited for; parts names the sub-latencies the
// workers record in w.parts (reported in SubLatencyMs).
type phaseSpec struct {
	name  string
	b     bound
	work  func(ctx context.Context, w *worker)
	side  func(ctx context.Context)
	parts []string
}

func (r *runner) runSpec(ctx context.Context, spec phaseSpec) (PhaseResult, error) {
	b := spec.b
	r.count = b.duration == 0 && b.requests == 0
	r.budget.Store(b.events)
	r.eventTarget = b.events
	r.events.Store(0)
	r.reqLimited = b.requests > 0
	r.reqBudget.Store(b.requests)
	r.stop.Store(false)
	r.active = r.workers
	if b.workers > 0 && b.workers < len(r.workers) {
		r.active = r.workers[:b.workers]
	}
	hard := r.cfg.MaxDuration
	if b.duration > 0 {
		hard = b.duration
	}
	start := time.Now()
	end := start.Add(hard)
	for _, w := range r.workers {
		if w.cl != nil {
			w.cl.close()
			w.cl = nil
		}
	}
	for _, w := range r.active {
		cl, err := newClient(r.cfg.Client, r.cfg.URL, end.Add(10*time.Second))
		if err != nil {
			return PhaseResult{}, err
		}
		w.cl = cl
		w.hist = NewHistogram()
		w.parts = w.parts[:0]
		for range spec.parts {
			w.parts = append(w.parts, NewHistogram())
		}
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
	go r.progressLoop(spec.name, start, phaseDone, progressDone)

	sideCtx, cancelSide := context.WithCancel(phaseCtx)
	defer cancelSide()
	sideDone := make(chan struct{})
	if spec.side != nil {
		go func() {
			defer close(sideDone)
			spec.side(sideCtx)
		}()
	} else {
		close(sideDone)
	}
	var wg sync.WaitGroup
	for _, w := range r.active {
		wg.Go(func() { spec.work(phaseCtx, w) })
	}
	wg.Wait()
	elapsed := time.Since(start)
	cancelSide()
	<-sideDone
	close(phaseDone)
	<-progressDone
	<-stopperDone

	ph := PhaseResult{Name: spec.name, hist: NewHistogram(), ErrorsByKind: map[string]int64{}}
	parts := make([]*Histogram, len(spec.parts))
	for i := range parts {
		parts[i] = NewHistogram()
	}
	for _, w := range r.active {
		ph.Events += w.ctr.events.Load()
		ph.Requests += w.ctr.requests.Load()
		ph.Errors += w.ctr.errors.Load()
		ph.hist.Merge(w.hist)
		for i, h := range w.parts {
			parts[i].Merge(h)
		}
		for k, v := range w.errs {
			ph.ErrorsByKind[k] += v
		}
	}
	ph.finish(elapsed, cpuTime()-cpu0)
	for i, name := range spec.parts {
		ph.addSub(name, parts[i])
	}
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
			kind := w.failKind
			if kind == "" {
				kind = strconv.Itoa(status)
			}
			w.failKind = ""
			w.errs[kind]++
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
			for _, w := range r.active {
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
