package client

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"time"
)

// Event is a stored event, as every read, replay and subscription returns it.
type Event struct {
	EventID       string          `json:"eventId"`
	StreamID      string          `json:"streamId"`
	Version       uint64          `json:"version"`  // in its stream, from 1
	Position      uint64          `json:"position"` // in the global log ($all), from 1, gap-free
	EventType     string          `json:"eventType"`
	SchemaVersion int             `json:"schemaVersion"`
	EventData     json.RawMessage `json:"eventData"` // the bytes the writer sent (upcast, unless read raw)
	Metadata      json.RawMessage `json:"metadata"`  // {} when none was sent
	Timestamp     time.Time       `json:"timestamp"` // set by the daemon, millisecond precision, UTC
}

// Decode unmarshals the event's eventData into v.
func (e *Event) Decode(v any) error { return json.Unmarshal(e.EventData, v) }

// DecodeMetadata unmarshals the event's metadata into v.
func (e *Event) DecodeMetadata(v any) error { return json.Unmarshal(e.Metadata, v) }

// ExpectedVersion is the optimistic-concurrency condition of an append or
// a command: Any (the zero value: no check), NoStream, StreamExists or
// Exact(n). A mismatch is a 409 error matching ErrWrongExpectedVersion; its
// VersionConflict (or CurrentVersion(err)) tells the stream's version.
type ExpectedVersion struct {
	kind uint8
	n    uint64
}

const (
	evAny uint8 = iota
	evNoStream
	evExists
	evExact
)

var (
	// Any performs no check (the zero ExpectedVersion).
	Any = ExpectedVersion{}
	// NoStream requires that the stream has no events yet.
	NoStream = ExpectedVersion{kind: evNoStream}
	// StreamExists requires that the stream has at least one event.
	StreamExists = ExpectedVersion{kind: evExists}
)

// Exact requires that the stream's current version is exactly n (versions
// start at 1; Exact(0) means the same as NoStream).
func Exact(n uint64) ExpectedVersion { return ExpectedVersion{kind: evExact, n: n} }

// IsAny reports whether v performs no check.
func (v ExpectedVersion) IsAny() bool { return v.kind == evAny }

// String is the wire form: "any", "no_stream", "exists" or the number.
func (v ExpectedVersion) String() string {
	switch v.kind {
	case evNoStream:
		return "no_stream"
	case evExists:
		return "exists"
	case evExact:
		return strconv.FormatUint(v.n, 10)
	}
	return "any"
}

// MarshalJSON encodes v as the API's expectedVersion value.
func (v ExpectedVersion) MarshalJSON() ([]byte, error) {
	if v.kind == evExact {
		return strconv.AppendUint(nil, v.n, 10), nil
	}
	return json.Marshal(v.String())
}

// expectedPtr is nil for Any, so that the field is left out.
func expectedPtr(v ExpectedVersion) *ExpectedVersion {
	if v.IsAny() {
		return nil
	}
	return &v
}

// Direction is the order of a read.
type Direction string

const (
	Forward  Direction = "forward"  // oldest first (the default)
	Backward Direction = "backward" // newest first
)

// NewID returns a fresh UUIDv7 (RFC 9562): 48 bits of Unix milliseconds,
// then 74 random bits, so ids sort roughly by creation time. The daemon
// makes the same kind of id when a request carries none.
func NewID() string {
	var u [16]byte
	_, _ = rand.Read(u[6:])
	ms := uint64(time.Now().UnixMilli())
	binary.BigEndian.PutUint16(u[0:], uint16(ms>>32))
	binary.BigEndian.PutUint32(u[2:], uint32(ms))
	u[6] = 0x70 | u[6]&0x0f // version 7
	u[8] = 0x80 | u[8]&0x3f // variant 10
	var s [36]byte
	hex.Encode(s[0:8], u[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], u[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], u[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], u[8:10])
	s[23] = '-'
	hex.Encode(s[24:], u[10:])
	return string(s[:])
}
