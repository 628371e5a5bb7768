package snapshot

import (
	"context"
	"encoding/binary"
	"errors"
	"strings"
	"sync"

	"github.com/cockroachdb/pebble/v2"

	"github.com/eventd/eventd/engine"
	"github.com/eventd/eventd/engine/derived"
)

// auto takes snapshots in the background, never on the append path: a
// tailer follows $all (from a cursor kept in the store, starting at the
// head the first time: history is not snapshotted retroactively; slow
// replays ask for that) and asks for a snapshot of a stream whenever one
// of its events has a version that is a multiple of Every; slow replays
// ask too (suggest). One worker takes them, each at most once while
// queued.
type auto struct {
	s      *Store
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	pending map[string]uint64 // stream → version to snapshot at (the highest asked)
	order   []string
	wake    chan struct{}
}

const (
	tailKey   = "s!tail"
	tailBatch = 4096
	maxQueued = 10000 // asks beyond this are dropped: a later one comes soon enough
)

func startAuto(s *Store) (*auto, error) {
	a := &auto{s: s, pending: map[string]uint64{}, wake: make(chan struct{}, 1)}
	a.ctx, a.cancel = context.WithCancel(context.Background())
	from, err := a.cursor()
	if err != nil {
		return nil, err
	}
	a.wg.Add(1)
	go func() { defer a.wg.Done(); a.work() }()
	if s.opts.Every > 0 {
		a.wg.Add(1)
		go func() { defer a.wg.Done(); a.tail(from) }()
	}
	return a, nil
}

func (a *auto) close() error {
	a.cancel()
	a.wg.Wait()
	return nil
}

// cursor is where the tailer resumes: the stored cursor, else the head.
func (a *auto) cursor() (uint64, error) {
	v, closer, err := a.s.db.Get([]byte(tailKey))
	if errors.Is(err, pebble.ErrNotFound) {
		return a.s.log.Head(), nil
	}
	if err != nil {
		return 0, err
	}
	defer closer.Close()
	if len(v) != 8 {
		return a.s.log.Head(), nil
	}
	return binary.BigEndian.Uint64(v), nil
}

// suggest asks for a snapshot of stream at version.
func (a *auto) suggest(stream string, version uint64) {
	a.mu.Lock()
	if v, ok := a.pending[stream]; ok {
		a.pending[stream] = max(v, version)
	} else if len(a.order) < maxQueued {
		a.pending[stream] = version
		a.order = append(a.order, stream)
	}
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

func (a *auto) next() (string, uint64, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.order) == 0 {
		return "", 0, false
	}
	stream := a.order[0]
	a.order = a.order[1:]
	v := a.pending[stream]
	delete(a.pending, stream)
	return stream, v, true
}

func (a *auto) work() {
	for {
		stream, v, ok := a.next()
		if !ok {
			select {
			case <-a.wake:
				continue
			case <-a.ctx.Done():
				return
			}
		}
		// The derived store's failure or wait for room was logged when it began.
		if _, err := a.s.Take(a.ctx, stream, v); err != nil && a.ctx.Err() == nil && !errors.Is(err, derived.ErrFailed) && !errors.Is(err, derived.ErrNoRoom) {
			a.s.lg.Warn("snapshot: automatic snapshot failed", "stream", stream, "version", v, "err", err)
		}
		if a.ctx.Err() != nil {
			return
		}
	}
}

// tail follows $all and asks for snapshots every Every versions.
func (a *auto) tail(from uint64) {
	every := uint64(a.s.opts.Every)
	f := engine.Filter{ExcludeSystem: true}
	for a.ctx.Err() == nil {
		moved := a.s.log.HeadMoved()
		if from >= a.s.log.Head() {
			select {
			case <-moved:
				continue
			case <-a.ctx.Done():
				return
			}
		}
		next, head, err := a.s.log.Stored().ReadAllFunc(from, // versions only: no upcasting
			engine.Forward, tailBatch, f, func(e *engine.Event) error {
				if e.Version%every == 0 {
					a.suggest(strings.Clone(e.StreamID), e.Version) // e aliases a pooled read buffer
				}
				return nil
			})
		if err != nil {
			a.s.lg.Warn("snapshot: following the log failed; automatic snapshots stop", "err", err)
			return
		}
		if next != 0 {
			from = next
		} else {
			from = head
		}
		_ = a.s.db.Set([]byte(tailKey), binary.BigEndian.AppendUint64(nil, from), pebble.NoSync)
	}
}
