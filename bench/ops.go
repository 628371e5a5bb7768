package bench

import "strconv"

// The operations a phase repeats: each prepares one request and checks its
// answer.

// appendOp appends to the worker's streams round-robin, each time with the
// stream's exact expected version. A 201 advances the version; a 409 is an
// error, and its currentVersion resynchronises the stream (so one conflict
// costs one error, not every later append).
type appendOp struct {
	batch  int
	single bool        // POST /api/events, one event per request
	sample *lagSampler // --mode projection's live phase: hands over a 201 when asked
}

var pathEvents = []byte("/api/events")

func (a *appendOp) prepare(r *runner, w *worker) (string, []byte, []byte, bool) {
	n := r.claim(a.batch)
	if n == 0 {
		return "", nil, nil, false
	}
	s := w.streams[w.next]
	w.next++
	if w.next == len(w.streams) {
		w.next = 0
	}
	w.cur, w.curN = s, n
	if a.single {
		w.body = r.bodies.appendSingle(w.body[:0], s.id, s.version)
		return "POST", pathEvents, w.body, true
	}
	w.body = r.bodies.appendBatch(w.body[:0], s.version, n)
	return "POST", s.appendPath, w.body, true
}

func (a *appendOp) done(w *worker, status int, resp []byte) (int, bool) {
	switch status {
	case 201:
		w.cur.version += uint64(w.curN)
		if a.sample != nil {
			a.sample.offer(resp)
		}
		return w.curN, true
	case 409:
		if v, ok := findUint(resp, keyCurrentVersion); ok {
			w.cur.version = v
		}
	}
	return 0, false
}

// streamReadOp pages forward through the worker's read streams, one page
// per request, moving to the next stream at the end of one.
type streamReadOp struct{ limit int }

func (o *streamReadOp) prepare(r *runner, w *worker) (string, []byte, []byte, bool) {
	if !r.readBudgetLeft() {
		return "", nil, nil, false
	}
	s := w.readStreams[w.readNext]
	p := append(w.path[:0], s.readPath...)
	p = append(p, "?fromVersion="...)
	p = strconv.AppendUint(p, w.readFrom, 10)
	p = append(p, "&limit="...)
	p = strconv.AppendInt(p, int64(o.limit), 10)
	w.path = p
	return "GET", p, nil, true
}

func (o *streamReadOp) done(w *worker, status int, resp []byte) (int, bool) {
	if status != 200 {
		return 0, false
	}
	s := w.readStreams[w.readNext]
	n := countEvents(resp)
	w.readFrom += uint64(n)
	if n < o.limit || (s.version > 0 && w.readFrom >= s.version) {
		w.readNext = (w.readNext + 1) % len(w.readStreams)
		w.readFrom = 0
	}
	return n, true
}

// allReadOp pages forward through $all from the worker's start position,
// wrapping to the beginning at the head.
type allReadOp struct{ limit int }

func (o *allReadOp) prepare(r *runner, w *worker) (string, []byte, []byte, bool) {
	if !r.readBudgetLeft() {
		return "", nil, nil, false
	}
	p := append(w.path[:0], "/api/all?fromPosition="...)
	p = strconv.AppendUint(p, w.allFrom, 10)
	p = append(p, "&limit="...)
	p = strconv.AppendInt(p, int64(o.limit), 10)
	w.path = p
	return "GET", p, nil, true
}

func (o *allReadOp) done(w *worker, status int, resp []byte) (int, bool) {
	if status != 200 {
		return 0, false
	}
	n := countEvents(resp)
	w.allFrom += uint64(n) // positions are gap-free
	if n < o.limit {
		w.allFrom = 0
	}
	return n, true
}

// replayOp rebuilds the state of the worker's read streams in turn; the
// events counted are the versions covered (toVersion, from 0).
type replayOp struct{}

var replayBody = []byte(`{"includeEvents":false}`)

func (o *replayOp) prepare(r *runner, w *worker) (string, []byte, []byte, bool) {
	if !r.readBudgetLeft() {
		return "", nil, nil, false
	}
	s := w.readStreams[w.readNext]
	w.readNext = (w.readNext + 1) % len(w.readStreams)
	return "POST", s.replayPath, replayBody, true
}

func (o *replayOp) done(w *worker, status int, resp []byte) (int, bool) {
	if status != 200 {
		return 0, false
	}
	v, _ := findUint(resp, keyToVersion)
	return int(v), true
}
