package bench

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// FsyncProbe measures the disk under dir the way the log uses it: one
// record of size bytes written, then fdatasync'd, again and again, for d:
//
//   - "fsync-append": at the end of a file that grows (what a log does in a
//     segment that was not zero-filled);
//   - "fsync-overwrite": into a file zero-filled and synced beforehand
//     (what a log does in a preallocated segment).
//
// The requests of the report are write+fdatasync pairs; together with the
// no-op HTTP target (`eventd stub`) they give the serial ideal of one
// client, 1 / (1/stub + 1/fsync). The probe's file is removed afterwards.
func FsyncProbe(dir string, size int, d time.Duration) ([]PhaseResult, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(dir, "eventd-fsync-probe-*.tmp")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	rec := make([]byte, size)
	for i := range rec {
		rec[i] = byte('a' + i%26)
	}
	var out []PhaseResult
	for _, overwrite := range []bool{false, true} {
		name := "fsync-append"
		if overwrite {
			name = "fsync-overwrite"
			if err := prefill(f, 64<<20); err != nil {
				return nil, err
			}
		} else if err := f.Truncate(0); err != nil {
			return nil, err
		}
		ph, err := probe(f, rec, d, overwrite)
		if err != nil {
			return nil, fmt.Errorf("bench: %s probe of %s: %w", name, filepath.Dir(f.Name()), err)
		}
		ph.Name = name
		out = append(out, ph)
	}
	return out, nil
}

func prefill(f *os.File, n int64) error {
	zeros := make([]byte, 1<<20)
	for off := int64(0); off < n; off += int64(len(zeros)) {
		if _, err := f.WriteAt(zeros, off); err != nil {
			return err
		}
	}
	return f.Sync()
}

func probe(f *os.File, rec []byte, d time.Duration, overwrite bool) (PhaseResult, error) {
	h := NewHistogram()
	var off int64
	n := int64(0)
	start := time.Now()
	for time.Since(start) < d {
		t0 := time.Now()
		if overwrite && off+int64(len(rec)) > 64<<20 {
			off = 0
		}
		if _, err := f.WriteAt(rec, off); err != nil {
			return PhaseResult{}, err
		}
		if err := fdatasync(f); err != nil {
			return PhaseResult{}, err
		}
		h.Record(time.Since(t0))
		off += int64(len(rec))
		n++
	}
	el := time.Since(start).Seconds()
	ph := PhaseResult{ElapsedSec: el, Events: n, Requests: n, EventsPerSec: float64(n) / el, RequestsPerSec: float64(n) / el, hist: h}
	ph.LatencyMs = latencyOf(h)
	return ph, nil
}
