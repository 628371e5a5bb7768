package segment_test

import (
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/eventd/eventd/segment"
)

// The lifecycle from the package documentation.
func Example() {
	dir, err := os.MkdirTemp("", "segment-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	l, err := segment.Open(dir, segment.Options{SegmentSize: 1 << 20, Logger: quiet}) // recovers the tail
	if err != nil {
		panic(err)
	}
	var b segment.Batch
	b.Reset(l.LastPosition() + 1)
	rel := b.Add(&segment.Record{Position: l.LastPosition() + 1, StreamID: "order-1", Type: "OrderPlaced"})
	seg, frameOff, err := l.Write(&b) // one WriteAt; rolls first if needed
	if err != nil {
		panic(err)
	}
	if err := l.Sync(); err != nil { // fdatasync: now it is durable
		panic(err)
	}
	loc := segment.MakeLoc(seg, frameOff+int64(rel))
	var buf []byte
	r, buf, err := l.ReadRecord(loc, buf) // verified; r aliases buf
	if err != nil {
		panic(err)
	}
	fmt.Println(r.Position, r.StreamID, r.Type, l.LastPosition())
	if err := l.Close(); err != nil {
		panic(err)
	}
	// Output: 1 order-1 OrderPlaced 1
}
