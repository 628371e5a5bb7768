package bench

import (
	"math"
	"math/bits"
	"time"
)

// Histogram records latencies in a log-linear bucket array, in the manner of
// HdrHistogram: values below 2^subBits nanoseconds get one bucket each; above
// that, every power of two is split into 2^subBits equal buckets. A value is
// reported as the highest value of its bucket, so the relative error of any
// percentile is below 2^-subBits (under 0.8%).
//
//	index:  0 … 127 | 128 … 255 | 256 … 383   | 384 … 511   | …
//	values: 0 … 127 | 128 … 255 | 256 … 510/2 | 512 … 1020/4| …  (ns / bucket width)
//
// A Histogram is not safe for concurrent use: each worker owns one, and they
// are merged after the run.
type Histogram struct {
	counts []uint64
	n      uint64
	sum    uint64
	min    uint64
	max    uint64
}

const (
	subBits    = 7
	subCount   = 1 << subBits
	numBuckets = (64 - subBits + 1) * subCount // enough for every uint64
)

// NewHistogram returns an empty histogram.
func NewHistogram() *Histogram {
	return &Histogram{counts: make([]uint64, numBuckets)}
}

// bucketOf maps a value to its bucket index.
func bucketOf(v uint64) int {
	if v < subCount {
		return int(v)
	}
	shift := bits.Len64(v) - 1 - subBits
	sub := (v >> uint(shift)) - subCount
	return (shift+1)<<subBits + int(sub)
}

// bucketHigh is the highest value that maps to bucket i.
func bucketHigh(i int) uint64 {
	if i < subCount {
		return uint64(i)
	}
	shift := uint(i>>subBits - 1)
	sub := uint64(i & (subCount - 1))
	low := (sub + subCount) << shift
	return low + (1 << shift) - 1
}

// Record adds one latency.
func (h *Histogram) Record(d time.Duration) {
	v := uint64(0)
	if d > 0 {
		v = uint64(d)
	}
	h.counts[bucketOf(v)]++
	if h.n == 0 || v < h.min {
		h.min = v
	}
	if v > h.max {
		h.max = v
	}
	h.n++
	h.sum += v
}

// Merge adds every value recorded in o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.n += o.n
	h.sum += o.sum
}

// Count is the number of recorded values.
func (h *Histogram) Count() uint64 { return h.n }

// Max is the largest recorded value (exact).
func (h *Histogram) Max() time.Duration { return time.Duration(h.max) }

// Min is the smallest recorded value (exact).
func (h *Histogram) Min() time.Duration { return time.Duration(h.min) }

// Mean is the average of the recorded values (exact).
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / h.n)
}

// Quantile returns the value at quantile q (0 < q ≤ 1): the smallest
// recorded value v such that at least q of all values are ≤ v, rounded up
// to its bucket's highest value and clamped to [Min, Max].
func (h *Histogram) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q*float64(h.n) - 1e-9))
	rank = max(1, min(rank, h.n))
	var cum uint64
	for i, c := range h.counts {
		cum += c
		if cum >= rank {
			v := min(max(bucketHigh(i), h.min), h.max)
			return time.Duration(v)
		}
	}
	return time.Duration(h.max)
}
