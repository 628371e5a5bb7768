package bench

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"
)

// --mode query: reads of read models.
//
//  1. seed-keys: a state projection bench-<runid>-keys (keyBy eventData.k,
//     streamPrefix bench-<runid>-qk-, startFrom now) is created, then
//     --keys items are appended, 1000 a request, one stream per worker,
//     each event the item {"k":"k<i>","grp":"g<i mod 10>","n":i,"pad":…}
//     of --size bytes; the phase ends when the projection has processed
//     them all and holds exactly --keys keys.
//  2. query: workers send GET /api/queries/{id}?key=k<random seeded i>; a
//     200 is one event.
//  3. seed-where (unless --where-items 0): the same with --where-items
//     items, into bench-<runid>-where (prefix bench-<runid>-qw-).
//  4. where: --where-concurrency workers send GET /api/queries/{id}?
//     limit=10000&where=grp:g<random 0…9>. Each query scans the whole
//     read model (one item in 10 matches, so up to 10,000 of 100,000
//     items); its latency is the phase's, and the events are the items
//     returned, which must be exactly the matching ones (up to the limit),
//     else the query is a "where-count" error.

// whereLimit is the page size of the where queries: the API's maximum.
const whereLimit = 10_000

func (r *runner) runQuery(ctx context.Context, rep *Report) error {
	cfg := r.cfg
	keysID := r.projectionID("keys")
	if err := r.keyedModel(ctx, rep, "seed-keys", keysID, "qk", cfg.Keys); err != nil || ctx.Err() != nil {
		return err
	}
	kp := []byte("/api/queries/" + keysID + "?key=")
	ph, err := r.runPhase(ctx, "query", bound{duration: cfg.Duration, events: cfg.Events}, &keyQueryOp{prefix: kp, n: cfg.Keys})
	if err != nil {
		return err
	}
	ph.Note = fmt.Sprintf("GET /api/queries/%s?key=k<random of %d>", keysID, cfg.Keys)
	rep.Phases = append(rep.Phases, ph)
	if cfg.WhereItems == 0 || ctx.Err() != nil {
		return nil
	}
	whereID := r.projectionID("where")
	if err := r.keyedModel(ctx, rep, "seed-where", whereID, "qw", cfg.WhereItems); err != nil || ctx.Err() != nil {
		return err
	}
	wp := []byte("/api/queries/" + whereID + "?limit=" + strconv.Itoa(whereLimit) + "&where=grp:g")
	ph, err = r.runPhase(ctx, "where", bound{duration: cfg.Duration, events: cfg.Events, workers: cfg.WhereConcurrency},
		&whereOp{prefix: wp, items: cfg.WhereItems})
	if err != nil {
		return err
	}
	ph.Note = fmt.Sprintf("GET /api/queries/%s?limit=%d&where=grp:g<random 0…9>, %d workers: each query scans all %d items, "+
		"returns the 1 in %d that match (at most %d); events = items returned",
		whereID, whereLimit, cfg.WhereConcurrency, cfg.WhereItems, whereGroups, whereLimit)
	rep.Phases = append(rep.Phases, ph)
	return nil
}

// keyedModel creates state projection id over streams
// bench-<runid>-<tag>-w<k>, keyed by eventData.k, seeds n items into it
// (phase name) and waits until it holds them all.
func (r *runner) keyedModel(ctx context.Context, rep *Report, name, id, tag string, n int) error {
	prefix := "bench-" + r.cfg.RunID + "-" + tag + "-"
	if _, err := r.createProjection(ctx, projectionDef{ProjectionID: id, Name: "bench " + r.cfg.RunID + " " + name,
		Kind: "state", StreamPrefix: prefix, KeyBy: "eventData.k", StartFrom: "now"}); err != nil {
		return err
	}
	o := &keyedSeedOp{}
	for k := range r.workers {
		o.streams = append(o.streams, newStreamState(prefix+"w"+strconv.Itoa(k), 0))
	}
	ph, err := r.runPhase(ctx, name, bound{events: int64(n)}, o)
	if err != nil {
		return err
	}
	head, err := fetchHead(r.cfg)
	if err != nil {
		return err
	}
	t0 := time.Now()
	reached, err := r.waitProjection(ctx, name, id, head, r.cfg.MaxDuration)
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		rep.Phases = append(rep.Phases, ph)
		return nil
	}
	info, err := r.getProjection(ctx, id)
	if err != nil {
		return err
	}
	switch {
	case !reached:
		return fmt.Errorf("bench: projection %s did not reach position %d within %s (it is at %d)", id, head, r.cfg.MaxDuration, info.LastProcessedPosition)
	case info.Keys != uint64(n):
		return fmt.Errorf("bench: projection %s holds %d keys after seeding %d (%d seeding errors)", id, info.Keys, n, ph.Errors)
	}
	ph.ProjectionID, ph.LastProcessedPosition, ph.HeadPosition = id, info.LastProcessedPosition, head
	ph.Note = fmt.Sprintf("%d items into state projection %s (keyBy eventData.k), 1000 a request; it had processed them all %.1f ms after the last 201",
		n, id, float64(time.Since(t0).Microseconds())/1000)
	rep.Phases = append(rep.Phases, ph)
	return nil
}

// keyedSeedOp appends the items 0, 1, … in batches of up to 1000, each
// worker to its own stream.
type keyedSeedOp struct {
	streams []*streamState // by worker
	next    atomic.Uint64  // the next item
}

func (o *keyedSeedOp) prepare(r *runner, w *worker) (string, []byte, []byte, bool) {
	n := r.claim(1000)
	if n == 0 {
		return "", nil, nil, false
	}
	s := o.streams[w.id]
	first := o.next.Add(uint64(n)) - uint64(n)
	w.cur, w.curN = s, n
	w.body = appendKeyedBatch(w.body[:0], r.bodies.typ, s.version, first, n, r.cfg.Size)
	return "POST", s.appendPath, w.body, true
}

func (o *keyedSeedOp) done(w *worker, status int, resp []byte) (int, bool) {
	switch status {
	case 201:
		w.cur.version += uint64(w.curN)
		return w.curN, true
	case 409:
		if v, ok := findUint(resp, keyCurrentVersion); ok {
			w.cur.version = v
		}
	}
	return 0, false
}

// keyQueryOp looks up a random seeded key.
type keyQueryOp struct {
	prefix []byte // /api/queries/{id}?key=
	n      int
}

func (o *keyQueryOp) prepare(r *runner, w *worker) (string, []byte, []byte, bool) {
	if r.claim(1) == 0 {
		return "", nil, nil, false
	}
	p := append(w.path[:0], o.prefix...)
	w.path = appendKey(p, uint64(w.rng.IntN(o.n)))
	return "GET", w.path, nil, true
}

func (o *keyQueryOp) done(w *worker, status int, resp []byte) (int, bool) {
	if status != 200 {
		return 0, false
	}
	return 1, true
}

// whereOp lists the items of a random group.
type whereOp struct {
	prefix []byte // /api/queries/{id}?limit=…&where=grp:g
	items  int
}

var keyItem = []byte(`{"key":`)

func (o *whereOp) prepare(r *runner, w *worker) (string, []byte, []byte, bool) {
	if !r.readBudgetLeft() {
		return "", nil, nil, false
	}
	g := w.rng.IntN(whereGroups)
	w.curN = g
	p := append(w.path[:0], o.prefix...)
	w.path = strconv.AppendInt(p, int64(g), 10)
	return "GET", w.path, nil, true
}

func (o *whereOp) done(w *worker, status int, resp []byte) (int, bool) {
	if status != 200 {
		return 0, false
	}
	n := bytes.Count(resp, keyItem)
	if n != min(whereLimit, expectedWhereItems(o.items, w.curN)) {
		w.failKind = "where-count"
		return 0, false
	}
	return n, true
}
