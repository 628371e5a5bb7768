package segment

import (
	"log/slog"
	"time"

	"github.com/eventd/eventd/segment/vfs"
)

// Options configure a Log. The zero value is usable.
type Options struct {
	FS vfs.FS // nil: vfs.OS()
	// SegmentSize is the size at which segments roll (and to which the next
	// one is zero-filled ahead of time); default 256 MiB. A frame that does
	// not fit in a segment of this size gets a segment of its own.
	SegmentSize int64
	// MaxRecordSize bounds one encoded record's payload on write; default
	// 16 MiB, at most the format limit MaxRecordSize.
	MaxRecordSize int
	// VerifyFull checks every frame, record and footer of every sealed
	// segment before Open returns.
	VerifyFull bool
	// Repair: on corruption at Open, keep a .broken copy of the damaged
	// segment (and rename every later one to .broken), cut the log at the
	// last good frame before the damage and go on.
	Repair bool
	Logger *slog.Logger // nil: slog.Default()
	// DisablePrealloc turns off zero-filling the next segment in the
	// background (every roll then creates its segment synchronously). For
	// tests that count I/O calls.
	DisablePrealloc bool

	// preallocRetry is the preallocator's first wait after a failure
	// (default 1s); tests shorten it.
	preallocRetry time.Duration
}

const (
	defaultSegmentSize   = 256 << 20
	defaultMaxRecordSize = 16 << 20
	minSegmentSize       = 4 << 10
	maxSegmentSize       = 1 << 39 // offsets in a Loc have 40 bits
)

func (o Options) withDefaults() Options {
	if o.FS == nil {
		o.FS = vfs.OS()
	}
	if o.SegmentSize <= 0 {
		o.SegmentSize = defaultSegmentSize
	}
	o.SegmentSize = min(max(o.SegmentSize, minSegmentSize), maxSegmentSize)
	if o.MaxRecordSize <= 0 {
		o.MaxRecordSize = defaultMaxRecordSize
	}
	o.MaxRecordSize = min(o.MaxRecordSize, MaxRecordSize)
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.preallocRetry <= 0 {
		o.preallocRetry = time.Second
	}
	return o
}
