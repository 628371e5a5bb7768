package bench

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"time"
)

// --mode ryw (read-your-writes): a state projection keyed by stream id,
// over the streams of this run only (streamPrefix bench-<runid>-,
// startFrom now), is created first; then each worker, again and again,
// writes one event and at once reads it back through the projection:
//
//	POST /api/events (its next stream, exact expectedVersion) → 201, position P
//	   or, with --ryw-command, POST /api/commands CreateUser (a new user) → 201, P
//	GET /api/queries/{id}?key=<stream>&minPosition=P&timeout=5s → 200
//
// The latency is the pair's, from sending the write to the query's answer
// ("write" and "query" are its parts). A pair is a success when the query
// answers 200 with the key's value (an object) at a position ≥ P; a 200
// without it is a "ryw-value" or "ryw-position" error.

// rywLoop is the ryw phase's loop; id is the projection.
type rywLoop struct {
	id      string
	command bool
}

var (
	keyValueObject = []byte(`"value":{`)
	pathRYWTimeout = "&timeout=5s"
)

func (o *rywLoop) loop(_ context.Context, r *runner, w *worker) {
	fail := func(kind string) {
		w.errs[kind]++
		w.ctr.errors.Add(1)
	}
	for !r.stop.Load() {
		if r.claim(1) == 0 {
			r.stop.Store(true)
			return
		}
		var path []byte
		var s *streamState
		if o.command {
			w.seq++
			w.body = appendCreateUser(w.body[:0], w.userPrefix, w.seq, r.cfg.Size)
			w.key = appendUserID(w.key[:0], w.userPrefix, w.seq)
			path = pathCommands
		} else {
			s = w.streams[w.next]
			w.next = (w.next + 1) % len(w.streams)
			w.body = r.bodies.appendSingle(w.body[:0], s.id, s.version)
			w.key = append(w.key[:0], s.id...)
			path = pathEvents
		}
		w.ctr.requests.Add(1)
		t0 := time.Now()
		status, resp, err := w.cl.do("POST", path, w.body)
		t1 := time.Now()
		if err != nil {
			fail("transport")
			if !r.stop.Load() {
				time.Sleep(10 * time.Millisecond)
			}
			continue
		}
		if status != 201 {
			if status == 409 && s != nil {
				if v, ok := findUint(resp, keyCurrentVersion); ok {
					s.version = v
				}
			}
			fail(strconv.Itoa(status))
			continue
		}
		if s != nil {
			s.version++
		}
		pos, ok := findUint(resp, keyPosition)
		if !ok {
			fail("position")
			continue
		}
		p := append(w.path[:0], "/api/queries/"...)
		p = append(p, o.id...)
		p = append(p, "?key="...)
		p = append(p, w.key...)
		p = append(p, "&minPosition="...)
		p = strconv.AppendUint(p, pos, 10)
		p = append(p, pathRYWTimeout...)
		w.path = p
		status, resp, err = w.cl.do("GET", p, nil)
		t2 := time.Now()
		switch {
		case err != nil:
			fail("transport")
			continue
		case status != 200:
			fail("query-" + strconv.Itoa(status))
			continue
		case !bytes.Contains(resp, keyValueObject):
			fail("ryw-value")
			continue
		}
		if got, ok := findUint(resp, keyPosition); !ok || got < pos {
			fail("ryw-position")
			continue
		}
		w.hist.Record(t2.Sub(t0))
		w.parts[0].Record(t1.Sub(t0))
		w.parts[1].Record(t2.Sub(t1))
		w.ctr.events.Add(1)
		r.events.Add(1)
	}
}

func (r *runner) runRYW(ctx context.Context, rep *Report) error {
	id := r.projectionID("ryw")
	prefix := "bench-" + r.cfg.RunID + "-"
	if _, err := r.createProjection(ctx, projectionDef{ProjectionID: id, Name: "bench " + r.cfg.RunID + " ryw",
		Kind: "state", StreamPrefix: prefix, StartFrom: "now"}); err != nil {
		return err
	}
	l := &rywLoop{id: id, command: r.cfg.RYWCommand}
	ph, err := r.runSpec(ctx, phaseSpec{name: "ryw", b: bound{duration: r.cfg.Duration, events: r.cfg.Events},
		work: func(ctx context.Context, w *worker) { l.loop(ctx, r, w) }, parts: []string{"write", "query"}})
	if err != nil {
		return err
	}
	write := fmt.Sprintf("POST /api/events (%d bytes of eventData)", len(r.bodies.data))
	if l.command {
		write = fmt.Sprintf("POST /api/commands CreateUser (commandData padded to %d bytes)", r.cfg.Size)
	}
	ph.Note = fmt.Sprintf("one request = %s → 201, then GET /api/queries/%s?key=<stream>&minPosition=<its position>&timeout=5s → 200 with the value; "+
		"latency of the pair (state projection, prefix %s)", write, id, prefix)
	rep.Phases = append(rep.Phases, ph)
	return nil
}
