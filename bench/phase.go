package bench

// Phases: the bound that ends one, and running a phase's work on every
// worker with the progress line, latencies and counters it reports.

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"
)

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
