package segment

import (
	"errors"
	"fmt"
)

var (
	// ErrCorrupt: bytes on disk do not decode or do not match their checksum.
	ErrCorrupt = errors.New("segment: corrupt data")
	// ErrRecordTooLarge: a record is larger than Options.MaxRecordSize (on
	// write) or the format limit MaxRecordSize (on read).
	ErrRecordTooLarge = errors.New("segment: record too large")
	// ErrClosed: the Log was closed.
	ErrClosed = errors.New("segment: log is closed")
	// ErrOutOfRange: a Loc or position does not name anything in the log.
	ErrOutOfRange = errors.New("segment: location out of range")
)

// errTruncated is a frame or record cut short: the end of the data came
// before the end its length promised. At the tail of the last segment it is
// a torn write; anywhere else it is corruption.
var errTruncated = fmt.Errorf("%w: truncated", ErrCorrupt)

// errEndOfLog is a frame header whose length field is 0: zero-filled space
// after the last frame. Not an error in itself.
var errEndOfLog = errors.New("segment: end of log")

// CorruptionError says where damage was found: the segment file, the byte
// offset (of the frame, record, header or footer that is bad) and the cause,
// which wraps ErrCorrupt. Find it with errors.As.
type CorruptionError struct {
	File   string
	Offset int64
	Err    error
}

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("segment: corruption in %s at offset %d: %v", e.File, e.Offset, e.Err)
}

func (e *CorruptionError) Unwrap() error { return e.Err }

func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}
