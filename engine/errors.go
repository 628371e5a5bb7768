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

// FailedError is why an append was not written: the store could not write
// or fsync. Unwrap gives the cause (a *fs.PathError naming the file, with
// the errno: syscall.ENOSPC, syscall.EMFILE, …). The server answers 503.
//
// Sticky (Recoverable false): a write or fsync failed in a way after which
// the log cannot be trusted to hold what it was given. Every later append
// fails with it until a restart; reads keep working for what was
// acknowledged. Err and Problems report it.
//
// Recoverable: the failure provably wrote nothing (the log is as it was,
// and the positions the batch was given are used again by the next one)
// and is not sticky. Either a file could not be opened or created at a
// segment roll (EMFILE, ENFILE, …): only the requests at hand fail, and the
// next append rolls again. Or the file system is full (ENOSPC, EDQUOT):
// appends are refused, Err and Problems say why (/health: unhealthy) until
// a probe write and fsync succeed, which the store tries by itself every
// few seconds; freeing space is all it needs. See docs/failures.md.
type FailedError struct {
	Err         error
	Recoverable bool
}

func (e *FailedError) Error() string {
	if e.Recoverable {
		return "engine: append not written, the store recovers by itself: " + e.Err.Error()
	}
	return "engine: store failed, appends refused until restart: " + e.Err.Error()
}
func (e *FailedError) Unwrap() error { return e.Err }
