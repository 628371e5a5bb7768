package segment

import (
	"fmt"
	"testing"
	"time"

	"github.com/eventd/eventd/segment/vfs"
)

// benchRecord is a ~200-byte record, as a typical small event.
func benchRecord(pos uint64) Record {
	return Record{
		Position: pos, Version: pos, Timestamp: time.Now().UnixNano(), SchemaVersion: 1,
		AppendLen: 1, StreamID: "order-12345", EventID: "0190f4d2-7b3a-7c55-8f1e-2a6b9c0d4e5f",
		Type: "OrderPlaced", Data: make([]byte, 100),
	}
}

const benchSegmentSize = 64 << 20

// warmToPreallocated rolls the log once into a segment that the
// preallocator zero-filled, so a benchmark measures the steady state rather
// than the first, freshly created segment.
func warmToPreallocated(b *testing.B, l *Log) {
	b.Helper()
	var batch Batch
	r := benchRecord(0)
	r.Data = make([]byte, 1<<20)
	deadline := time.Now().Add(30 * time.Second)
	for len(l.Segments()) < 2 {
		if l.pre.busy.Load() {
			for len(l.pre.readyCh) == 0 { // preallocation started: wait for it before rolling
				if time.Now().After(deadline) {
					b.Fatal("preallocation did not finish")
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
		batch.Reset(l.LastPosition() + 1)
		r.Position = l.LastPosition() + 1
		batch.Add(&r)
		if _, _, err := l.Write(&batch); err != nil {
			b.Fatal(err)
		}
	}
	if err := l.Sync(); err != nil {
		b.Fatal(err)
	}
}

func benchWrite(b *testing.B, batchSize int, fsync, prealloc bool) {
	l, err := Open(b.TempDir(), Options{SegmentSize: benchSegmentSize, Logger: quiet, DisablePrealloc: !prealloc})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	if prealloc {
		warmToPreallocated(b, l)
	}
	recs := make([]Record, batchSize)
	for i := range recs {
		recs[i] = benchRecord(0)
	}
	var batch Batch
	bytes := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		first := l.LastPosition() + 1
		batch.Reset(first)
		for j := range recs {
			recs[j].Position = first + uint64(j)
			batch.Add(&recs[j])
		}
		bytes = batch.Bytes()
		if _, _, err := l.Write(&batch); err != nil {
			b.Fatal(err)
		}
		if fsync {
			if err := l.Sync(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	b.SetBytes(int64(bytes))
	b.ReportMetric(float64(b.N*batchSize)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkWrite: one Write (and one Sync with fsync=always) per batch of
// ~200-byte records, real file system, 64 MiB segments, preallocated.
func BenchmarkWrite(b *testing.B) {
	for _, batch := range []int{1, 100} {
		for _, fsync := range []bool{true, false} {
			name := fmt.Sprintf("batch=%d/fsync=%s", batch, map[bool]string{true: "always", false: "never"}[fsync])
			b.Run(name, func(b *testing.B) { benchWrite(b, batch, fsync, true) })
		}
	}
}

// BenchmarkWriteNoPrealloc is BenchmarkWrite/fsync=always appending to a
// growing file instead: the baseline preallocation is measured against.
func BenchmarkWriteNoPrealloc(b *testing.B) {
	for _, batch := range []int{1, 100} {
		b.Run(fmt.Sprintf("batch=%d/fsync=always", batch), func(b *testing.B) { benchWrite(b, batch, true, false) })
	}
}

func BenchmarkDecodeRecord(b *testing.B) {
	r := benchRecord(1)
	enc := AppendRecord(nil, &r)
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := DecodeRecord(enc); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkReplay replays a log of 500,000 ~200-byte records (frames of
// 100) from the start: the start-up index rebuild.
func BenchmarkReplay(b *testing.B) {
	const events, perFrame = 500_000, 100
	dir := b.TempDir()
	l, err := Open(dir, Options{SegmentSize: benchSegmentSize, Logger: quiet, DisablePrealloc: true})
	if err != nil {
		b.Fatal(err)
	}
	var batch Batch
	size := 0
	for first := uint64(1); first <= events; first += perFrame {
		batch.Reset(first)
		for j := range perFrame {
			r := benchRecord(first + uint64(j))
			batch.Add(&r)
		}
		size += batch.Bytes()
		if _, _, err := l.Write(&batch); err != nil {
			b.Fatal(err)
		}
	}
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
	l, err = Open(dir, Options{SegmentSize: benchSegmentSize, Logger: quiet, FS: vfs.OS(), DisablePrealloc: true})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		n := 0
		var sum uint64
		if err := l.Replay(0, func(r *Record, loc Loc) error {
			n++
			sum += uint64(len(r.StreamID)) + loc
			return nil
		}); err != nil {
			b.Fatal(err)
		}
		if n != events {
			b.Fatalf("replayed %d", n)
		}
	}
	b.ReportMetric(float64(b.N*events)/b.Elapsed().Seconds(), "events/s")
}
