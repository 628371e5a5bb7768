package server

import (
	"context"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// byteBudget bounds the memory all SSE subscribers hold at once (events
// read for a client and their rendering, until written). A subscriber
// reserves before it reads and gives back what it did not use right after;
// when the budget is spent, it waits (holding nothing) until another
// subscriber's bytes are written or the subscriber is dropped.
//
// A reservation larger than the whole budget is granted when nothing else
// is held, so one subscriber can always make progress. force adds bytes
// without waiting, for the rare event larger than its reservation: the
// budget may then be exceeded by that event's excess.
type byteBudget struct {
	limit int64
	held  prometheus.Gauge // the bytes held now
	waits prometheus.Counter

	mu   sync.Mutex
	used int64
	// freed is closed (and replaced) when bytes are given back, to wake the
	// waiters; nil while nobody waits.
	freed chan struct{}
}

func newByteBudget(limit int64, m *Metrics) *byteBudget {
	m.sseLimitBytes.Set(float64(limit))
	return &byteBudget{limit: limit, held: m.sseHeldBytes, waits: m.sseBudgetWaits}
}

// acquire reserves n bytes, waiting until they are free or ctx ends.
func (b *byteBudget) acquire(ctx context.Context, n int64) error {
	counted := false
	for {
		b.mu.Lock()
		if b.used+n <= b.limit || b.used == 0 {
			b.used += n
			b.held.Set(float64(b.used))
			b.mu.Unlock()
			return nil
		}
		if b.freed == nil {
			b.freed = make(chan struct{})
		}
		ch := b.freed
		b.mu.Unlock()
		if !counted {
			b.waits.Inc()
			counted = true
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// force adds n bytes without waiting.
func (b *byteBudget) force(n int64) {
	b.mu.Lock()
	b.used += n
	b.held.Set(float64(b.used))
	b.mu.Unlock()
}

// release gives back n bytes.
func (b *byteBudget) release(n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	b.held.Set(float64(b.used))
	if b.freed != nil {
		close(b.freed)
		b.freed = nil
	}
	b.mu.Unlock()
}

// inUse is the bytes held now.
func (b *byteBudget) inUse() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}
