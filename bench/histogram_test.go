package bench

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketRoundTrip(t *testing.T) {
	prev := -1
	for _, v := range []uint64{0, 1, 127, 128, 129, 255, 256, 257, 511, 512, 1000, 1 << 20, 1<<20 + 12345, 1 << 40, math.MaxUint64} {
		i := bucketOf(v)
		if i < prev {
			t.Fatalf("bucketOf not monotonic at %d", v)
		}
		prev = i
		if i >= numBuckets {
			t.Fatalf("bucketOf(%d) = %d ≥ %d", v, i, numBuckets)
		}
		hi := bucketHigh(i)
		if hi < v {
			t.Fatalf("bucketHigh(bucketOf(%d)) = %d < value", v, hi)
		}
		if v >= subCount && float64(hi-v) > float64(v)/subCount {
			t.Fatalf("bucket of %d too wide: high %d", v, hi)
		}
		if i+1 < numBuckets && bucketOf(hi+1) != i+1 {
			t.Fatalf("bucket after %d is %d, want %d", hi, bucketOf(hi+1), i+1)
		}
	}
}

func TestHistogramQuantilesMatchSortedReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 2, 10, 1000, 100_000} {
		var ref []time.Duration
		parts := []*Histogram{NewHistogram(), NewHistogram(), NewHistogram()}
		for i := range n {
			// log-uniform from 1µs to ~10s, with a few tiny values
			d := time.Duration(math.Exp(rng.Float64()*math.Log(1e7)) * 1e3)
			if i%97 == 0 {
				d = time.Duration(rng.IntN(200))
			}
			ref = append(ref, d)
			parts[i%3].Record(d)
		}
		h := NewHistogram()
		for _, p := range parts {
			h.Merge(p)
		}
		slices.Sort(ref)
		if h.Count() != uint64(n) || h.Max() != ref[n-1] || h.Min() != ref[0] {
			t.Fatalf("n=%d: count/min/max %d/%v/%v, want %d/%v/%v", n, h.Count(), h.Min(), h.Max(), n, ref[0], ref[n-1])
		}
		for _, q := range []float64{0.001, 0.25, 0.5, 0.9, 0.99, 0.999, 1} {
			want := ref[int(math.Ceil(q*float64(n)-1e-9))-1]
			got := h.Quantile(q)
			if got < want || float64(got-want) > float64(want)/subCount {
				t.Errorf("n=%d q=%v: got %v, want %v (within %.2f%%)", n, q, got, want, 100.0/subCount)
			}
		}
	}
}

func TestHistogramEmptyAndNegative(t *testing.T) {
	h := NewHistogram()
	if h.Quantile(0.5) != 0 || h.Mean() != 0 {
		t.Fatal("empty histogram not zero")
	}
	h.Record(-5)
	if h.Quantile(1) != 0 || h.Count() != 1 {
		t.Fatal("negative value not recorded as 0")
	}
}

func BenchmarkHistogramRecord(b *testing.B) {
	h := NewHistogram()
	for i := 0; b.Loop(); i++ {
		h.Record(time.Duration(i*7919) % time.Second)
	}
}
