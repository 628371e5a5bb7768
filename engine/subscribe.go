package engine

import (
	"context"
	"errors"
	"slices"
	"sort"
	"sync"
	"time"
	"unsafe"
)

// Subscription follows $all (or one stream) from a start point: catch-up
// from disk, then live, never skipping or repeating. It holds no events in
// memory between calls: a slow reader simply reads from disk, and the
// writer never waits for it.
//
// What one call holds is bounded twice: by a number of events and by bytes
// (EventMemSize), so a page of large events costs what a page of small ones
// does. The events it returns own their memory: they do not pin the read
// buffers they were decoded from, and they are freed as soon as the caller
// drops them.
//
// A Subscription is used by one goroutine at a time; Close may be called
// from any.
type Subscription struct {
	s      *Store
	filter Filter

	// $all: cursor is the last position examined.
	// Stream: cursor is the last version delivered; while fromPos > 0 the
	// start is still a position (Last-Event-ID) to be turned into a version.
	stream  string
	cursor  uint64
	fromPos uint64
	stored  bool // events as stored, not upcast (StoredReader)

	// examined is the position through which every event has been looked
	// at: Wait returns once the head passes it. 0 after a look cut short by
	// a limit (more may follow at once).
	examined uint64
	// looked is when the subscription last looked after a wake-up (pace).
	looked time.Time
	// wake: a $all subscription filtered by event type sleeps on it, and a
	// commit holding one of its types signals it (typeMarks); nil: it
	// sleeps on the head's Notifier, woken by every commit.
	wake chan struct{}

	closeOnce sync.Once
}

// paceStep is how long a woken subscription waits between looks per
// subscription the last commit woke: every commit wakes every unfiltered
// subscription at the head (and the filtered ones whose types it held),
// so with many of them the wake-ups, not the appends, would take the CPU.
// With n woken each looks at most once per n×paceStep (1,000: every 5 ms;
// 10: every 50 µs, below a commit), which bounds the looks of all of them
// together to about 200,000 a second whatever n is, at the price of that
// much delivery latency when there are many. A caught-up subscription
// delivers what the commits in between brought in one page.
const paceStep = 5 * time.Microsecond

// pace waits, after a wake-up, until the subscription may look again
// (see paceStep). It returns ctx's error or ErrClosed if those come first.
func (sub *Subscription) pace(ctx context.Context) error {
	s := sub.s
	gap := time.Duration(s.woken.Load()) * paceStep
	now := time.Now()
	wait := gap - now.Sub(sub.looked)
	if wait <= 50*time.Microsecond { // below a timer's resolution
		sub.looked = now
		return nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.closed:
		return ErrClosed
	}
	sub.looked = time.Now()
	return nil
}

// DefaultNextBytes is the byte budget of Next.
const DefaultNextBytes = 1 << 20

// eventOverhead is what an Event costs besides its strings and payload.
const eventOverhead = int(unsafe.Sizeof(Event{}))

// EventMemSize is the memory an event returned by a Subscription holds: its
// payload, its strings and the Event itself. The byte budgets of NextLimited
// and TryNext count it.
func EventMemSize(e *Event) int {
	return eventOverhead + len(e.StreamID) + len(e.ID) + len(e.Type) + len(e.Metadata) + len(e.Data)
}

// errPageFull ends a read whose next event would overflow the byte budget.
var errPageFull = errors.New("engine: subscription page full")

// Subscribe follows $all from position from (exclusive) with a filter.
func (s *Store) Subscribe(from uint64, f Filter) *Subscription {
	s.subscribers.Add(1)
	sub := &Subscription{s: s, filter: f, cursor: from, examined: from}
	if len(f.EventTypes) > 0 {
		sub.filter.EventTypes = slices.Clone(f.EventTypes)
		sub.wake = make(chan struct{}, 1)
		s.types.watch(sub.filter.EventTypes, sub.wake)
	} else {
		s.headSubs.Add(1)
	}
	return sub
}

// sleep waits for the next commit that may hold something for the
// subscription: moved (from headMoved.Wait, taken before the look), or the
// subscription's own signal.
func (sub *Subscription) sleep(ctx context.Context, moved <-chan struct{}) error {
	if sub.wake != nil {
		moved = sub.wake
	}
	select {
	case <-moved:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-sub.s.closed:
		return ErrClosed
	}
}

// SubscribeStream follows one stream from fromVersion (exclusive); if
// fromPosition > 0 it wins: the stream's events with position > fromPosition.
func (s *Store) SubscribeStream(streamID string, fromVersion, fromPosition uint64) *Subscription {
	s.subscribers.Add(1)
	s.headSubs.Add(1)
	return &Subscription{s: s, stream: streamID, cursor: fromVersion, fromPos: fromPosition}
}

// Position is the subscription's cursor: the last position examined ($all)
// or the last version delivered (stream).
func (sub *Subscription) Position() uint64 { return sub.cursor }

// Next is NextLimited with a budget of DefaultNextBytes.
func (sub *Subscription) Next(ctx context.Context, max int) ([]Event, error) {
	return sub.NextLimited(ctx, max, DefaultNextBytes)
}

// NextLimited blocks until at least one matching event follows the cursor
// (or ctx ends, or the store closes), then returns up to maxEvents of them
// whose EventMemSize adds up to at most maxBytes, and advances. The first
// event is returned even if it alone is larger than maxBytes. maxEvents ≤ 0
// means 1000, maxBytes ≤ 0 DefaultNextBytes.
func (sub *Subscription) NextLimited(ctx context.Context, maxEvents, maxBytes int) ([]Event, error) {
	s := sub.s
	for {
		// Take the wake-up channel before looking, so a head move between
		// the look and the wait is not missed.
		moved := s.headMoved.Wait()
		evs, err := sub.TryNext(maxEvents, maxBytes)
		if err != nil || len(evs) > 0 {
			return evs, err
		}
		if err := sub.sleep(ctx, moved); err != nil {
			return nil, err
		}
		if err := sub.pace(ctx); err != nil {
			return nil, err
		}
	}
}

// TryNext is NextLimited without the wait: it looks once and returns no
// events (and no error) when none follows the cursor yet.
func (sub *Subscription) TryNext(maxEvents, maxBytes int) ([]Event, error) {
	if maxEvents <= 0 {
		maxEvents = 1000
	}
	if maxBytes <= 0 {
		maxBytes = DefaultNextBytes
	}
	var evs []Event
	var err error
	if sub.stream == "" {
		evs, err = sub.nextAll(maxEvents, maxBytes)
	} else {
		evs, err = sub.nextStream(maxEvents, maxBytes)
	}
	if err != nil {
		select {
		case <-sub.s.closed:
			return nil, ErrClosed // a read cut short by Close
		default:
		}
		return nil, err
	}
	return evs, nil
}

// Wait blocks until events may follow what the subscription has looked at
// (the head passed it), or ctx ends, or the store closes (ErrClosed). It
// holds nothing while it waits: a caller that must reserve memory before a
// read waits here first, then reserves, then calls TryNext (which may still
// find nothing, when the new events do not match the filter).
func (sub *Subscription) Wait(ctx context.Context) error {
	s := sub.s
	for {
		moved := s.headMoved.Wait()
		if s.Head() > sub.examined && !sub.skipUnmatched() {
			return sub.pace(ctx)
		}
		if err := sub.sleep(ctx, moved); err != nil {
			return err
		}
	}
}

// page collects the events of one look within its budgets. The reads are
// pooled (their buffers are reused), so each event is copied into memory
// of its own: a held event then never pins a whole read span.
type page struct {
	evs      []Event
	bytes    int
	maxBytes int
}

func (p *page) add(e *Event) error {
	n := EventMemSize(e)
	if len(p.evs) > 0 && p.bytes+n > p.maxBytes {
		return errPageFull
	}
	p.evs = append(p.evs, ownEvent(e))
	p.bytes += n
	return nil
}

// ownEvent copies e's strings and payload into one new allocation.
func ownEvent(e *Event) Event {
	c := *e
	buf := make([]byte, 0, len(e.StreamID)+len(e.ID)+len(e.Type)+len(e.Metadata)+len(e.Data))
	str := func(s string) string {
		if s == "" {
			return ""
		}
		o := len(buf)
		buf = append(buf, s...)
		// buf is never written again at [o, o+len(s)).
		return unsafe.String(&buf[o], len(s))
	}
	bytes := func(b []byte) []byte {
		if len(b) == 0 {
			return nil
		}
		o := len(buf)
		buf = append(buf, b...)
		return buf[o:len(buf):len(buf)]
	}
	c.StreamID, c.ID, c.Type = str(e.StreamID), str(e.ID), str(e.Type)
	c.Metadata, c.Data = bytes(e.Metadata), bytes(e.Data)
	return c
}

// skipUnmatched moves a $all subscription filtered by event type to the
// head when no event of its types was appended after its cursor (see
// typeMarks), and reports whether it did: then nothing is to be read.
func (sub *Subscription) skipUnmatched() bool {
	if sub.stream != "" || len(sub.filter.EventTypes) == 0 {
		return false
	}
	head := sub.s.Head() // first: the marks then cover every event up to it
	if head <= sub.cursor || !sub.s.types.noneAfter(sub.filter.EventTypes, sub.cursor) {
		return false
	}
	sub.cursor, sub.examined = head, head
	return true
}

func (sub *Subscription) nextAll(maxEvents, maxBytes int) ([]Event, error) {
	defer func() { sub.examined = sub.cursor }()
	if sub.skipUnmatched() {
		return nil, nil
	}
	for sub.cursor < sub.s.Head() {
		p := page{maxBytes: maxBytes}
		next, head, err := sub.s.readAll(sub.cursor, Forward, maxEvents, sub.filter, readOpts{pooled: true, stored: sub.stored}, p.add)
		if errors.Is(err, errPageFull) {
			// Everything up to the last event taken has been examined;
			// the one that did not fit is read again next time.
			sub.cursor = p.evs[len(p.evs)-1].Position
			return p.evs, nil
		}
		if err != nil {
			return nil, err
		}
		// next is where the read stopped early; otherwise it examined
		// everything up to the head it saw.
		sub.cursor = head
		if next != 0 {
			sub.cursor = next
		}
		if len(p.evs) > 0 {
			return p.evs, nil
		}
	}
	return nil, nil
}

func (sub *Subscription) nextStream(maxEvents, maxBytes int) ([]Event, error) {
	s := sub.s
	if sub.fromPos > 0 {
		head := s.Head() // once: the checks below must agree
		st, ok := s.ix.Stream(sub.stream)
		if !ok {
			sub.examined = head
			return nil, nil
		}
		pos := visible(st.Positions, head)
		// Versions whose position is ≤ fromPos were seen already.
		sub.cursor = uint64(sort.Search(len(pos), func(i int) bool { return pos[i] > sub.fromPos }))
		if sub.fromPos > head && sub.cursor == uint64(len(pos)) {
			sub.examined = head
			return nil, nil // the position is not reached yet: keep it
		}
		sub.fromPos = 0
	}
	p := page{maxBytes: maxBytes}
	next, head, err := s.readStream(sub.stream, sub.cursor, Forward, maxEvents, readOpts{pooled: true, stored: sub.stored}, p.add)
	full := errors.Is(err, errPageFull)
	if err != nil && !full {
		return nil, err
	}
	if n := len(p.evs); n > 0 {
		sub.cursor = p.evs[n-1].Version
	}
	sub.examined = head
	if full || next != 0 {
		sub.examined = 0 // cut short: more follows now
	}
	return p.evs, nil
}

// Close releases the subscription (counted in Stats.Subscribers).
func (sub *Subscription) Close() {
	sub.closeOnce.Do(func() {
		sub.s.subscribers.Add(-1)
		if sub.wake != nil {
			sub.s.types.unwatch(sub.filter.EventTypes, sub.wake)
		} else {
			sub.s.headSubs.Add(-1)
		}
	})
}
