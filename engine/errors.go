package engine

import (
	"errors"
	"fmt"

	"github.com/eventd/eventd/segment"
)

var (
	// ErrClosed is returned by calls on a closed store.
	ErrClosed = errors.New("engine: store is closed")
	// ErrDuplicateEvent: some, but not all, of an append's event ids were
	// already written to the stream (or they were not written as one append).
	ErrDuplicateEvent = errors.New("engine: some event ids were already written to this stream")
	// ErrInvalidStreamID: the stream id is empty, too long or malformed.
	ErrInvalidStreamID = errors.New("engine: invalid stream id")
	// ErrInvalidEvent: an event's type, id or sizes are out of bounds, or an
	// append has no events or too many (ErrInvalidEventType and
	// ErrEventTooLarge are kinds of it).
	ErrInvalidEvent = errors.New("engine: invalid event")
	// ErrInvalidEventType: an event type breaks the event-type syntax.
	ErrInvalidEventType = errors.New("engine: invalid event type")
	// ErrEventTooLarge: an event's data and metadata pass Options.MaxEventSize.
	ErrEventTooLarge = errors.New("engine: event too large")
	// ErrCorrupt is wrapped by every error a read returns for a damaged
	// record (a *segment.CorruptionError with file and offset): the store
	// never returns wrong data, and the damage shows in Problems.
	ErrCorrupt = segment.ErrCorrupt
	// ErrLocked: another process holds the data directory's LOCK.
	ErrLocked = errors.New("engine: data directory is locked by another process")
)

// WrongExpectedVersionError is returned when an append's expected version
// does not match the stream. Nothing was written.
type WrongExpectedVersionError struct {
	StreamID string
	Expected ExpectedVersion
	Current  uint64
}

func (e *WrongExpectedVersionError) Error() string {
	return fmt.Sprintf("engine: wrong expected version for stream %q: expected %d, current %d", e.StreamID, e.Expected, e.Current)
}

// FailedError wraps the sticky write or fsync error that stopped the writer.
// Once a store has failed, every append fails with it; reads keep working
// for what was acknowledged.
type FailedError struct{ Err error }

func (e *FailedError) Error() string {
	return "engine: store failed, appends refused: " + e.Err.Error()
}
func (e *FailedError) Unwrap() error { return e.Err }
