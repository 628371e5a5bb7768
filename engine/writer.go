package engine

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"eventd/index"
	"eventd/segment"
)

// appendReq is one Append call waiting for the writer.
type appendReq struct {
	streamID string
	expected ExpectedVersion
	events   []Proposed
	gen      []bool // gen[i]: events[i].ID was made by the store (nil: none was)
	genBuf   []bool // spare backing array for gen (pooled requests)
	bytes    int
	barrier  bool // no events: ask the writer to fsync now (checkpoints)

	res  AppendResult
	err  error
	done chan struct{} // receives once, when res/err are final
}

// writer is the single goroutine that owns the tail of the log.
//
// Ordering guarantee. Appends are handled strictly in the order they were
// queued. For each batch the writer
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
// A failed write or fsync is sticky: the batch's requests and every later
// one fail with it, and nothing is acknowledged after it. While the writer
// is busy with one batch, the next one fills up in the queue.
type writer struct {
	s *Store

	mu       sync.Mutex
	queue    []*appendReq
	spare    []*appendReq
	stopping bool
	wake     chan struct{} // cap 1: something was queued

	// Below: owned by the writer goroutine.
	dd         *dedupe
	b          segment.Batch
	entries    []index.Entry
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
}

type idRef struct {
	req *appendReq
	idx int
}

func newWriter(s *Store, dd *dedupe) *writer {
	return &writer{
		s:        s,
		wake:     make(chan struct{}, 1),
		dd:       dd,
		pending:  make(map[string]uint64),
		batchIDs: make(map[uint64]idRef),
		lastSync: time.Now(),
		ckptDone: make(chan error, 1),
	}
}

func (w *writer) enqueue(r *appendReq) error {
	w.mu.Lock()
	if w.stopping {
		w.mu.Unlock()
		return ErrClosed
	}
	w.queue = append(w.queue, r)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	return nil
}

// stop makes the writer finish what is queued and return.
func (w *writer) stop() {
	w.mu.Lock()
	w.stopping = true
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *writer) loop() {
	s := w.s
	for {
		w.mu.Lock()
		q := w.queue
		if len(q) > 0 {
			w.queue, w.spare = w.spare[:0], nil
		}
		stopping := w.stopping
		w.mu.Unlock()

		if len(q) == 0 {
			if stopping {
				w.waitCheckpoint()
				return
			}
			w.idle()
			continue
		}
		for rest := q; len(rest) > 0; {
			n := w.cut(rest)
			w.commit(rest[:n])
			rest = rest[n:]
		}
		clear(q)
		w.mu.Lock()
		w.spare = q[:0]
		w.mu.Unlock()

		if s.opts.Fsync == FsyncInterval && w.dirty && time.Since(w.lastSync) >= s.opts.FsyncInterval {
			w.sync(nil)
		}
	}
}

// idle waits for work; under FsyncInterval it also fsyncs what is pending
// when the interval is up.
func (w *writer) idle() {
	if w.s.opts.Fsync == FsyncInterval && w.dirty {
		d := w.s.opts.FsyncInterval - time.Since(w.lastSync)
		if d <= 0 {
			w.sync(nil)
			return
		}
		t := time.NewTimer(d)
		select {
		case <-w.wake:
		case <-t.C:
			w.sync(nil)
		}
		t.Stop()
		return
	}
	<-w.wake
}

// cut returns how many requests from q form the next batch: at least one,
// then as many as fit in MaxBatchBytes and MaxBatchEvents.
func (w *writer) cut(q []*appendReq) int {
	bytes, events := q[0].bytes, len(q[0].events)
	n := 1
	for n < len(q) {
		r := q[n]
		if bytes+r.bytes > w.s.opts.MaxBatchBytes || events+len(r.events) > w.s.opts.MaxBatchEvents {
			break
		}
		bytes += r.bytes
		events += len(r.events)
		n++
	}
	return n
}

// commit handles one batch: validate, write, fsync, index, publish, answer.
func (w *writer) commit(reqs []*appendReq) {
	s := w.s
	defer func() {
		for _, r := range reqs {
			r.done <- struct{}{}
		}
	}()
	if f := s.failed.Load(); f != nil {
		for _, r := range reqs {
			r.err = f
		}
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
	w.entries, w.rels, w.newKeys = w.entries[:0], w.rels[:0], w.newKeys[:0]
	clear(w.pending)
	clear(w.batchIDs)
	barrier, appends := false, 0
	for _, r := range reqs {
		if r.barrier {
			barrier = true
			continue
		}
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
			w.fail(fmt.Errorf("write: %w", err), reqs)
			return
		}
		for i := range w.entries {
			w.entries[i].Loc = segment.MakeLoc(seg, off+int64(w.rels[i]))
		}
		w.dirty = true
	}
	var fsync time.Duration
	if w.dirty && (s.opts.Fsync == FsyncAlways || barrier) {
		t0 := time.Now()
		if !w.sync(reqs) {
			return
		}
		fsync = time.Since(t0)
	}
	if len(w.entries) > 0 {
		s.ix.Apply(w.entries)
		for _, k := range w.newKeys {
			w.dd.add(k.key, k.pos, k.ts)
		}
		s.head.Store(next - 1)
		s.headMoved.notify()
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
	f = w.s.failed.Load()
	for _, r := range reqs {
		r.err = f
	}
}

// prepare validates one request against the index and the batch so far and,
// if it is accepted, encodes its events into the frame.
func (w *writer) prepare(r *appendReq, next *uint64, ts int64) {
	s := w.s
	cur, ok := w.pending[r.streamID]
	if !ok {
		cur = s.ix.Version(r.streamID)
	}
	if r.gen == nil || hasClientID(r) {
		if dup, err := w.duplicate(r); err != nil {
			r.err = err
			return
		} else if dup {
			return
		}
	}
	if !expectedOK(r.expected, cur) {
		r.err = &WrongExpectedVersionError{StreamID: r.streamID, Expected: r.expected, Current: cur}
		return
	}
	n := uint64(len(r.events))
	r.res = AppendResult{
		StreamID:      r.streamID,
		FirstVersion:  cur + 1,
		LastVersion:   cur + n,
		FirstPosition: *next,
		LastPosition:  *next + n - 1,
		Timestamp:     time.Unix(0, ts).UTC(),
		Events:        make([]Appended, n),
	}
	for i := range r.events {
		e := &r.events[i]
		rec := segment.Record{
			Position:      *next + uint64(i),
			Version:       cur + 1 + uint64(i),
			Timestamp:     ts,
			SchemaVersion: max(e.SchemaVersion, 1),
			AppendIndex:   uint32(i),
			AppendLen:     uint32(n),
			StreamID:      r.streamID,
			EventID:       e.ID,
			Type:          e.Type,
			Metadata:      e.Metadata,
			Data:          e.Data,
		}
		client := r.gen == nil || !r.gen[i]
		if client {
			rec.Flags |= segment.FlagClientID
			key := w.key(r.streamID, e.ID)
			w.batchIDs[key] = idRef{req: r, idx: i}
			w.newKeys = append(w.newKeys, ddEntry{key: key, pos: rec.Position, ts: ts})
		}
		w.rels = append(w.rels, w.b.Add(&rec))
		w.entries = append(w.entries, index.Entry{Pos: rec.Position, StreamID: r.streamID, Timestamp: ts})
		r.res.Events[i] = Appended{ID: e.ID, Type: e.Type, Version: rec.Version, Position: rec.Position}
	}
	w.pending[r.streamID] = cur + n
	*next += n
}

func hasClientID(r *appendReq) bool {
	for _, g := range r.gen {
		if !g {
			return true
		}
	}
	return false
}

func expectedOK(exp ExpectedVersion, cur uint64) bool {
	switch {
	case exp == Any:
		return true
	case exp == NoStream || exp == 0:
		return cur == 0
	case exp == StreamExists:
		return cur > 0
	case exp > 0:
		return uint64(exp) == cur
	}
	return false
}

func (w *writer) key(stream, id string) uint64 {
	w.keyBuf = dedupeKeyBytes(w.keyBuf[:0], stream, id)
	return hashKey(w.keyBuf)
}

// duplicate checks r's client event ids. It reports dup=true (with r.res
// set to the earlier append's result, Duplicate=true) when all of them were
// written to the stream by one earlier append, ErrDuplicateEvent when only
// some were, and (false, nil) when none was.
func (w *writer) duplicate(r *appendReq) (dup bool, err error) {
	found, inBatch, sameRef := 0, 0, true
	var ref *appendReq // the earlier request, when found in this batch
	var pos []uint64   // positions of hash hits in the dedupe table
	var idx []int      // … and the events they are for
	for i := range r.events {
		if r.gen != nil && r.gen[i] {
			continue
		}
		k := w.key(r.streamID, r.events[i].ID)
		if br, ok := w.batchIDs[k]; ok && br.req.events[br.idx].ID == r.events[i].ID {
			found++
			inBatch++
			if br.idx != i || (ref != nil && ref != br.req) {
				sameRef = false
			}
			ref = br.req
			continue
		}
		if p, ok := w.dd.get(k); ok {
			pos = append(pos, p)
			idx = append(idx, i)
		}
	}
	// A hash hit is only a candidate: read the event back and compare, so
	// a collision can neither suppress a new event nor refuse it.
	var recs []verified
	if len(pos) > 0 {
		if recs, err = w.verifyHits(r, pos, idx); err != nil {
			return false, err
		}
		found += len(recs)
	}
	switch {
	case found == 0:
		return false, nil
	case found < len(r.events):
		return false, ErrDuplicateEvent
	case inBatch == found && sameRef && len(ref.events) == len(r.events):
		// The answer is the earlier append's, but built from this request's
		// own strings: a result never aliases another caller's memory.
		r.res = ref.res
		r.res.Events = make([]Appended, len(ref.res.Events))
		for i, e := range ref.res.Events {
			r.res.Events[i] = Appended{ID: r.events[i].ID, Type: strings.Clone(e.Type), Version: e.Version, Position: e.Position}
		}
		r.res.Duplicate = true
		return true, nil
	case inBatch == 0:
		if res, ok := earlierAppend(r, recs); ok {
			r.res = res
			return true, nil
		}
	}
	return false, ErrDuplicateEvent
}

// verified is an event of the log whose id matched one of r's.
type verified struct {
	idx                    int // the event of r it matches
	pos, version           uint64
	ts                     int64
	typ                    string
	appendIndex, appendLen uint32
}

// verifyHits reads the events at pos and keeps those that really are
// r.events[idx[i]] of r's stream.
func (w *writer) verifyHits(r *appendReq, pos []uint64, idx []int) ([]verified, error) {
	out := make([]verified, 0, len(pos))
	i := 0
	err := w.s.scanPositions(pos, true, func(rec *segment.Record) bool {
		if rec.StreamID == r.streamID && rec.EventID == r.events[idx[i]].ID {
			out = append(out, verified{idx: idx[i], pos: rec.Position, version: rec.Version, ts: rec.Timestamp,
				typ: strings.Clone(rec.Type), appendIndex: rec.AppendIndex, appendLen: rec.AppendLen})
		}
		i++
		return true
	})
	if err != nil {
		// A damaged record cannot prove anything: refuse rather than guess.
		return nil, fmt.Errorf("%w: checking event ids against the log: %v", ErrDuplicateEvent, err)
	}
	return out, nil
}

// earlierAppend reports whether the verified events (one per event of r,
// in r's order) are exactly one earlier append — consecutive positions,
// each carrying its place in an append of r's length — and returns that
// append's result.
func earlierAppend(r *appendReq, recs []verified) (AppendResult, bool) {
	n := len(recs)
	if n != len(r.events) {
		return AppendResult{}, false
	}
	res := AppendResult{
		StreamID:      r.streamID,
		FirstVersion:  recs[0].version,
		LastVersion:   recs[n-1].version,
		FirstPosition: recs[0].pos,
		LastPosition:  recs[n-1].pos,
		Timestamp:     time.Unix(0, recs[0].ts).UTC(),
		Events:        make([]Appended, n),
		Duplicate:     true,
	}
	for i, v := range recs {
		if v.idx != i || v.pos != recs[0].pos+uint64(i) || v.appendIndex != uint32(i) || v.appendLen != uint32(n) {
			return AppendResult{}, false
		}
		res.Events[i] = Appended{ID: r.events[i].ID, Type: v.typ, Version: v.version, Position: v.pos}
	}
	return res, true
}

// Append writes events to streamID atomically, after checking expected.
// It returns once the batch is durable per the fsync policy. ctx is only
// checked before the append is queued: once queued it is always answered.
// Errors: *WrongExpectedVersionError, ErrDuplicateEvent, ErrInvalidStreamID,
// ErrInvalidEvent, *FailedError, ErrClosed, ctx.Err().
func (s *Store) Append(ctx context.Context, streamID string, expected ExpectedVersion, events []Proposed) (AppendResult, error) {
	if err := ctx.Err(); err != nil {
		return AppendResult{}, err
	}
	if err := ValidateStreamID(streamID); err != nil {
		return AppendResult{}, err
	}
	if len(events) == 0 || len(events) > MaxAppendEvents {
		return AppendResult{}, fmt.Errorf("%w: an append has 1 to %d events, got %d", ErrInvalidEvent, MaxAppendEvents, len(events))
	}
	if expected < 0 && expected != Any && expected != NoStream && expected != StreamExists {
		return AppendResult{}, fmt.Errorf("%w: expected version %d", ErrInvalidEvent, expected)
	}
	if f := s.failed.Load(); f != nil {
		return AppendResult{}, f
	}
	r := reqPool.Get().(*appendReq)
	defer r.release()
	r.streamID, r.expected = streamID, expected
	r.events = append(r.events[:0], events...)
	for i := range r.events {
		e := &r.events[i]
		if err := s.validateEvent(e); err != nil {
			return AppendResult{}, fmt.Errorf("event %d: %w", i, err)
		}
		if e.ID == "" {
			if r.gen == nil {
				r.gen = append(r.genBuf[:0], make([]bool, len(events))...)
			}
			r.gen[i] = true
			e.ID = newUUIDv7()
		}
		r.bytes += len(streamID) + len(e.ID) + len(e.Type) + len(e.Data) + len(e.Metadata) + 64
	}
	if r.bytes > maxAppendBytes {
		return AppendResult{}, fmt.Errorf("%w: the append is about %d bytes, above the limit of %d", ErrInvalidEvent, r.bytes, maxAppendBytes)
	}
	if err := repeatedID(r); err != nil {
		return AppendResult{}, err
	}
	if err := s.w.enqueue(r); err != nil {
		return AppendResult{}, err
	}
	<-r.done
	return r.res, r.err
}

// reqPool recycles append requests (with their done channel and event
// slice): the writer drops every reference to a request before it answers.
var reqPool = sync.Pool{New: func() any { return &appendReq{done: make(chan struct{}, 1)} }}

// release clears r (so the pool holds no caller memory) and pools it.
func (r *appendReq) release() {
	clear(r.events)
	r.events = r.events[:0]
	if r.gen != nil {
		r.genBuf = r.gen[:0]
	}
	*r = appendReq{events: r.events, genBuf: r.genBuf, done: r.done}
	reqPool.Put(r)
}

// repeatedID refuses an append that names one client event id twice: ids
// are unique per stream, and such an append could never be retried
// idempotently.
func repeatedID(r *appendReq) error {
	if len(r.events) < 2 {
		return nil
	}
	if len(r.events) <= 16 { // small appends: no map
		for i := range r.events {
			for j := 0; j < i; j++ {
				if !(r.gen != nil && (r.gen[i] || r.gen[j])) && r.events[i].ID == r.events[j].ID {
					return fmt.Errorf("%w: event id %q appears twice in one append", ErrInvalidEvent, r.events[i].ID)
				}
			}
		}
		return nil
	}
	seen := make(map[string]struct{}, len(r.events))
	for i := range r.events {
		if r.gen != nil && r.gen[i] {
			continue
		}
		if _, ok := seen[r.events[i].ID]; ok {
			return fmt.Errorf("%w: event id %q appears twice in one append", ErrInvalidEvent, r.events[i].ID)
		}
		seen[r.events[i].ID] = struct{}{}
	}
	return nil
}

// ValidateStreamID checks a stream id's length and bytes (API.md: 1–200
// bytes of [A-Za-z0-9_.:@+=-], starting with a letter or digit; ids starting
// with '$' are system streams, which the engine writes but clients do not).
func ValidateStreamID(id string) error {
	if len(id) == 0 || len(id) > MaxStreamIDLen {
		return fmt.Errorf("%w: length %d, want 1 to %d bytes", ErrInvalidStreamID, len(id), MaxStreamIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case i == 0 && c == '$':
		case i > 0 && (c == '_' || c == '.' || c == ':' || c == '@' || c == '+' || c == '=' || c == '-'):
		default:
			return fmt.Errorf("%w: byte %q at %d", ErrInvalidStreamID, c, i)
		}
	}
	return nil
}

func (s *Store) validateEvent(e *Proposed) error {
	if len(e.Type) == 0 || len(e.Type) > MaxEventTypeLen || !utf8.ValidString(e.Type) {
		return fmt.Errorf("%w: event type must be 1 to %d bytes", ErrInvalidEvent, MaxEventTypeLen)
	}
	if len(e.ID) > MaxEventIDLen || !utf8.ValidString(e.ID) {
		return fmt.Errorf("%w: event id must be 1 to %d bytes of UTF-8", ErrInvalidEvent, MaxEventIDLen)
	}
	if len(e.Data)+len(e.Metadata) > s.opts.MaxEventSize {
		return fmt.Errorf("%w: data and metadata are %d bytes, above the limit of %d", ErrInvalidEvent, len(e.Data)+len(e.Metadata), s.opts.MaxEventSize)
	}
	return nil
}
