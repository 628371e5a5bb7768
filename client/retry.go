package client

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"time"
)

// RetryPolicy says how often and how patiently a request that failed in a
// transient way is sent again.
//
// Only requests that are safe to repeat are ever retried:
//
//   - GETs (reads, lists, queries, statuses, /health) and the replay POST,
//     which writes nothing;
//   - PUTs of schemas, reducers and command handlers (an identical PUT
//     writes nothing);
//   - appends and batches in which every event carries an event id, and
//     commands that carry a command id: the daemon answers a repeat with the
//     first outcome (appends: AppendResult.Duplicate / BatchResult.Duplicate
//     is true); WithAutoIDs fills the ids in for the caller;
//   - creating a projection with an explicit ID, pausing and resuming one
//     (repeats answer the same projection).
//
// Transient failures are network errors (no answer, or a connection that
// broke while the answer was read) and 503 unavailable answers. Every other
// answer, 4xx in particular, is returned at once. A request that could not
// even connect (a dial error: nothing was sent) is retried whatever its
// kind, since the daemon cannot have seen it.
//
// The waits grow exponentially from InitialBackoff, are capped at
// MaxBackoff, and are jittered (each is uniformly drawn from [d/2, d]); a
// 503's Retry-After, if any, lengthens a wait up to MaxBackoff. The call's
// context bounds the whole sequence.
type RetryPolicy struct {
	// MaxAttempts is the number of sends of one request, the first included:
	// 1 means no retries; 0 means the default, 4.
	MaxAttempts int
	// InitialBackoff is the wait before the first retry (0: 100ms).
	InitialBackoff time.Duration
	// MaxBackoff caps every wait (0: 2s).
	MaxBackoff time.Duration
}

// DefaultRetryPolicy is 4 attempts, waits from 100ms doubling up to 2s.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{MaxAttempts: 4, InitialBackoff: 100 * time.Millisecond, MaxBackoff: 2 * time.Second}
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	d := DefaultRetryPolicy()
	if p.MaxAttempts == 0 {
		p.MaxAttempts = d.MaxAttempts
	}
	if p.InitialBackoff == 0 {
		p.InitialBackoff = d.InitialBackoff
	}
	if p.MaxBackoff == 0 {
		p.MaxBackoff = d.MaxBackoff
	}
	if p.MaxBackoff < p.InitialBackoff {
		p.MaxBackoff = p.InitialBackoff
	}
	return p
}

// backoff is the jittered wait before retry number n (n ≥ 1).
func (p RetryPolicy) backoff(n int) time.Duration {
	return jittered(capped(p.InitialBackoff, p.MaxBackoff, n))
}

// capped is initial·2^(n-1), at most max.
func capped(initial, max time.Duration, n int) time.Duration {
	d := initial
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	if d > max || d <= 0 {
		d = max
	}
	return d
}

// jittered draws uniformly from [d/2, d].
func jittered(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// retryAfter reads a Retry-After header given in seconds.
func retryAfter(h http.Header) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0
	}
	return time.Duration(n) * time.Second
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// isDialError reports whether err happened before anything was sent.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}
