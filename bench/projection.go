package bench

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// --mode projection: how fast a projection catches up with the log, and
// how far it trails the appends while they go on.
//
//  1. seed (with --seed > 0): the read mode's seeding.
//  2. catchup-count (then catchup-state with --projection-state): POST
//     /api/projections with startFrom "beginning" and no filter, then wait
//     until its lastProcessedPosition reaches the headPosition its creation
//     answered. The wait is in the server (GET /api/queries/{id}?limit=1&
//     minPosition=<head>&timeout=1s, again until it answers 200), which
//     answers the moment the projection gets there: no polling interval
//     in the measurement, and no polling load on the daemon. The phase's
//     one "request" is the catch-up; its latency is the whole of it, from
//     the POST on, and events/s is positions covered per second.
//  3. live-append: every worker appends single events (POST /api/events)
//     as fast as it can; beside them one goroutine takes a lag sample every
//     --lag-interval: the next 201 a worker gets after it asks is handed
//     over (position and time of arrival), and for each projection it sends
//     GET /api/queries/{id}?limit=1&minPosition=<position>&timeout=5s; the
//     lag is from the 201's arrival to that query's 200. The same query is
//     sent again at once and timed as "query-rtt": the floor of the
//     measurement (one round trip with nothing to wait for).
//  4. lag-count (lag-state): those samples, one phase per projection; then
//     the projection must reach the head the load left (at most 30 s),
//     else the phase has a "behind" error.

func (r *runner) runProjection(ctx context.Context, rep *Report) error {
	if r.cfg.Seed > 0 {
		p, err := r.seedAppends(ctx)
		if err != nil {
			return err
		}
		rep.Phases = append(rep.Phases, p)
	}
	kinds := []string{"count"}
	if r.cfg.ProjectionState {
		kinds = append(kinds, "state")
	}
	for _, kind := range kinds {
		if ctx.Err() != nil {
			return nil
		}
		ph, err := r.catchUp(ctx, kind)
		if err != nil {
			return err
		}
		rep.Phases = append(rep.Phases, ph)
	}
	if ctx.Err() != nil {
		return nil
	}
	return r.liveLag(ctx, rep, kinds)
}

// catchUp creates the run's projection of that kind from the beginning
// and times it until it reaches the head.
func (r *runner) catchUp(ctx context.Context, kind string) (PhaseResult, error) {
	id, name := r.projectionID(kind), "catchup-"+kind
	d := projectionDef{ProjectionID: id, Name: "bench " + r.cfg.RunID + " " + kind, Kind: kind, StartFrom: "beginning"}
	cpu0 := cpuTime()
	t0 := time.Now()
	info, err := r.createProjection(ctx, d)
	if err != nil {
		return PhaseResult{}, err
	}
	target, from := info.HeadPosition, info.LastProcessedPosition
	reached, err := r.waitProjection(ctx, name, id, target, r.cfg.MaxDuration-time.Since(t0))
	elapsed := time.Since(t0)
	if err != nil {
		return PhaseResult{}, err
	}
	ph := PhaseResult{Name: name, hist: NewHistogram(), ErrorsByKind: map[string]int64{}, Requests: 1,
		ProjectionID: id, HeadPosition: target}
	end, err := r.getProjection(ctx, id)
	if err != nil && ctx.Err() == nil {
		return PhaseResult{}, err
	}
	ph.LastProcessedPosition = end.LastProcessedPosition
	if reached {
		ph.Events = int64(target - from)
		ph.hist.Record(elapsed)
	} else {
		ph.Events = int64(end.LastProcessedPosition - min(from, end.LastProcessedPosition))
		if ctx.Err() == nil {
			ph.Errors, ph.ErrorsByKind["behind"] = 1, 1
		}
	}
	ph.Note = fmt.Sprintf("%s projection %s from the beginning, no filter: positions %d→%d (%d events applied), "+
		"from POST /api/projections until its lastProcessedPosition reached the head", kind, id, from, ph.LastProcessedPosition, end.EventsProcessed)
	ph.finish(elapsed, cpuTime()-cpu0)
	return ph, nil
}

// liveLag runs the live-append phase with the lag sampler beside it, then
// reports one lag phase per projection.
func (r *runner) liveLag(ctx context.Context, rep *Report, kinds []string) error {
	cfg := r.cfg
	hard := cfg.MaxDuration
	if cfg.Duration > 0 {
		hard = cfg.Duration
	}
	s := &lagSampler{ch: make(chan lagSample, 1), interval: cfg.LagInterval}
	for _, kind := range kinds {
		cl, err := newClient(cfg.Client, cfg.URL, time.Now().Add(hard+time.Minute))
		if err != nil {
			return err
		}
		defer cl.close()
		s.targets = append(s.targets, &lagTarget{id: r.projectionID(kind), cl: cl,
			lag: NewHistogram(), rtt: NewHistogram(), errs: map[string]int64{}})
	}
	before := make([]projectionInfo, len(kinds))
	for i, t := range s.targets {
		info, err := r.getProjection(ctx, t.id)
		if err != nil {
			return err
		}
		before[i] = info
	}
	op := &appendOp{batch: 1, single: true, sample: s}
	ph, err := r.runSpec(ctx, phaseSpec{name: "live-append", b: bound{duration: cfg.Duration, events: cfg.Events},
		work: func(_ context.Context, w *worker) { r.work(w, op) }, side: s.run})
	if err != nil {
		return err
	}
	ph.Note = fmt.Sprintf("POST /api/events, %d bytes of eventData, while the projections run", len(r.bodies.data))
	rep.Phases = append(rep.Phases, ph)
	elapsed := time.Duration(ph.ElapsedSec * float64(time.Second))

	for i, t := range s.targets {
		lp := PhaseResult{Name: "lag-" + kinds[i], hist: t.lag, ErrorsByKind: t.errs,
			Requests: t.samples + t.errors, Errors: t.errors, ProjectionID: t.id}
		atEnd, err := r.getProjection(ctx, t.id)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		t0 := time.Now()
		reached, err := r.waitProjection(ctx, lp.Name, t.id, atEnd.HeadPosition, min(30*time.Second, cfg.MaxDuration))
		drain := time.Since(t0)
		if err != nil {
			return err
		}
		end, err := r.getProjection(ctx, t.id)
		if err != nil && ctx.Err() == nil {
			return err
		}
		lp.HeadPosition, lp.LastProcessedPosition = atEnd.HeadPosition, end.LastProcessedPosition
		caughtUp := fmt.Sprintf("reached the head %.1f ms later", float64(drain.Microseconds())/1000)
		if !reached {
			caughtUp = fmt.Sprintf("had not reached the head (%d) %.1f s later", atEnd.HeadPosition, drain.Seconds())
			if ctx.Err() == nil {
				lp.Errors++
				lp.ErrorsByKind["behind"]++
			}
		}
		lp.Note = fmt.Sprintf("%d samples, from an append's 201 to the 200 of GET /api/queries/%s?limit=1&minPosition=<its position>; "+
			"%d events applied during the load (%.0f/s); when it stopped the projection was %d positions behind and %s",
			t.samples, t.id, atEnd.EventsProcessed-before[i].EventsProcessed,
			float64(atEnd.EventsProcessed-before[i].EventsProcessed)/elapsed.Seconds(), atEnd.Lag, caughtUp)
		lp.finish(elapsed, 0)
		lp.addSub("query-rtt", t.rtt)
		rep.Phases = append(rep.Phases, lp)
	}
	return nil
}

// lagSample is an append's position and when its 201 arrived.
type lagSample struct {
	pos uint64
	at  time.Time
}

// lagSampler takes lag samples beside the appending workers: it asks
// (want) for the next 201 a worker gets, which that worker hands over
// (offer), and measures it against every target.
type lagSampler struct {
	want     atomic.Bool
	ch       chan lagSample // capacity 1: one offer per want
	interval time.Duration
	targets  []*lagTarget
}

// offer is called by a worker with each 201 it gets; it costs one atomic
// load unless the sampler is asking.
func (s *lagSampler) offer(resp []byte) {
	if !s.want.Load() || !s.want.CompareAndSwap(true, false) {
		return
	}
	pos, _ := findUint(resp, keyPosition)
	s.ch <- lagSample{pos: pos, at: time.Now()}
}

// run samples until ctx ends (the side goroutine of the live phase).
func (s *lagSampler) run(ctx context.Context) {
	for ctx.Err() == nil {
		s.want.Store(true)
		var smp lagSample
		select {
		case smp = <-s.ch:
		case <-ctx.Done():
			s.want.Store(false)
			return
		}
		if len(s.targets) == 1 {
			s.targets[0].measure(smp)
		} else { // at the same time, so that each lag is its own
			var wg sync.WaitGroup
			for _, t := range s.targets {
				wg.Go(func() { t.measure(smp) })
			}
			wg.Wait()
		}
		if s.interval > 0 {
			timer := time.NewTimer(s.interval)
			select {
			case <-timer.C:
			case <-ctx.Done():
				timer.Stop()
				return
			}
		}
	}
}

// lagTarget is one projection's lag samples. Only one goroutine at a time
// uses it.
type lagTarget struct {
	id              string
	cl              client
	path            []byte
	lag, rtt        *Histogram
	samples, errors int64
	errs            map[string]int64
}

func (t *lagTarget) fail(kind string) {
	t.errors++
	t.errs[kind]++
}

// measure waits, in the server, until the projection has processed
// smp.pos, and records the time since the 201; then times the same query
// again (nothing left to wait for).
func (t *lagTarget) measure(smp lagSample) {
	if smp.pos == 0 {
		t.fail("position")
		return
	}
	p := append(t.path[:0], "/api/queries/"...)
	p = append(p, t.id...)
	p = append(p, "?limit=1&minPosition="...)
	p = strconv.AppendUint(p, smp.pos, 10)
	p = append(p, "&timeout=5s"...)
	t.path = p
	status, resp, err := t.cl.do("GET", p, nil)
	at := time.Now()
	switch {
	case err != nil:
		t.fail("transport")
		return
	case status != 200:
		t.fail(strconv.Itoa(status))
		return
	}
	if got, ok := findUint(resp, keyPosition); !ok || got < smp.pos {
		t.fail("position")
		return
	}
	t.lag.Record(at.Sub(smp.at))
	t.samples++
	t0 := time.Now()
	if status, _, err := t.cl.do("GET", p, nil); err == nil && status == 200 {
		t.rtt.Record(time.Since(t0))
	}
}
