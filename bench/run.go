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
