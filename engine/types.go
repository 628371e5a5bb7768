package engine

import (
	"time"
)

// ExpectedVersion is the optimistic-concurrency condition of an append.
// Values ≥ 1 demand that exact current version; the negative constants are
// EventStoreDB's and mean what their names say. 0 is the same as NoStream.
type ExpectedVersion int64

const (
	// Any disables the check.
	Any ExpectedVersion = -2
	// NoStream demands that the stream has no events (0 means the same).
	NoStream ExpectedVersion = -1
	// StreamExists demands that the stream has at least one event.
	StreamExists ExpectedVersion = -4
)

// Proposed is one event handed to Append.
type Proposed struct {
	// ID is the client's event id (1–128 bytes). Empty: the store makes a
	// UUIDv7. Only client-supplied ids take part in idempotency.
	ID            string
	Type          string
	SchemaVersion uint32 // 0 is stored as 1
	Data          []byte // JSON object, stored as given
	Metadata      []byte // JSON object or empty
}

// Event is one stored event as read back.
//
// Events returned by reads alias an internal read buffer: treat every field
// as read-only.
type Event struct {
	Position      uint64
	StreamID      string
	Version       uint64
	ID            string
	Type          string
	SchemaVersion uint32
	Timestamp     time.Time // UTC, set by the store when the batch was written
	Metadata      []byte    // empty when none was given
	Data          []byte
}

// Appended describes one event written by an append.
type Appended struct {
	ID       string
	Type     string
	Version  uint64
	Position uint64
}

// AppendResult is the outcome of a successful Append.
type AppendResult struct {
	StreamID      string
	FirstVersion  uint64
	LastVersion   uint64
	FirstPosition uint64
	LastPosition  uint64
	Timestamp     time.Time
	Events        []Appended
	// Duplicate is true when every event id had already been written to the
	// stream by one earlier append: nothing was written and the result is
	// that earlier append's.
	Duplicate bool
}

// Direction of a read.
type Direction int

const (
	Forward Direction = iota
	Backward
)

// StreamInfo is one stream's metadata.
type StreamInfo struct {
	ID        string
	Version   uint64 // current version (= number of events)
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Filter selects events of $all reads and subscriptions. The zero value
// matches everything.
type Filter struct {
	EventTypes    []string // empty: every type
	StreamPrefix  string   // empty: every stream
	ExcludeSystem bool     // skip streams whose id starts with '$'
}

// Page is the answer to a read: the events, and where the next page starts
// when more follow in the reading direction (0 when none do).
type Page struct {
	Events []Event
	// Next is the exclusive start of the next page: a version for stream
	// reads, a position for $all reads. 0: nothing more follows.
	Next uint64
	// Head is the visible head position when the page was read.
	Head uint64
}

// FsyncPolicy says when appends are made durable.
type FsyncPolicy int

const (
	// FsyncAlways fsyncs every batch before answering (the default).
	FsyncAlways FsyncPolicy = iota
	// FsyncInterval answers after the write and fsyncs on a timer: a power
	// loss may lose the last interval.
	FsyncInterval
	// FsyncNever leaves flushing to the OS (tests, benchmarks).
	FsyncNever
)

// Stats are counters for /health and /metrics.
type Stats struct {
	Head          uint64 // visible head position = total events
	Streams       int
	Segments      int
	DataBytes     int64 // bytes of log on disk
	Appends       uint64
	Batches       uint64
	Fsyncs        uint64
	EventsWritten uint64
	BytesWritten  uint64
	Subscribers   int64
	IndexBytes    int64 // estimate of the index's RAM
}
