package projection

import (
	"errors"
	"fmt"
)

// Errors of the package. Input errors wrap ErrInvalid (and, for an event
// type, engine.ErrInvalidEventType as well), so a caller can map them to
// answers without parsing messages.
var (
	// ErrNotFound: no projection has that id.
	ErrNotFound = errors.New("projection: no such projection")
	// ErrKeyNotFound: the projection's read model has no entry with that key.
	ErrKeyNotFound = errors.New("projection: no such key")
	// ErrInvalid: a definition or a query is malformed; nothing was changed.
	ErrInvalid = errors.New("projection: invalid input")
	// ErrUnknownReducer: a state projection names a reducer the registry
	// does not know (a kind of ErrInvalid).
	ErrUnknownReducer = errors.New("projection: unknown reducer")
	// ErrExists: the id is taken by a projection with another definition.
	ErrExists = errors.New("projection: a projection with this id and another definition exists")
	// ErrSystem: system projections cannot be paused, resumed or deleted.
	ErrSystem = errors.New("projection: not allowed on a system projection")
	// ErrFailed: the projection is in error (an event it could not apply, or
	// a storage failure); only a reset brings it back.
	ErrFailed = errors.New("projection: the projection is in error")
	// ErrClosed: the manager is closed.
	ErrClosed = errors.New("projection: closed")
)

// invalid returns an error wrapping ErrInvalid with a message for a client.
func invalid(format string, args ...any) error {
	return &inputError{msg: fmt.Sprintf(format, args...)}
}

// inputError is an ErrInvalid with its own message, optionally wrapping a
// more precise cause (engine.ErrInvalidEventType, ErrUnknownReducer).
type inputError struct {
	msg   string
	cause error
}

func (e *inputError) Error() string { return e.msg }

func (e *inputError) Unwrap() []error {
	if e.cause != nil {
		return []error{ErrInvalid, e.cause}
	}
	return []error{ErrInvalid}
}

// applyError is a matching event the projection could not apply: it stops
// the projection with status error.
type applyError struct {
	pos     uint64
	stream  string
	version uint64
	err     error
}

func (e *applyError) Error() string {
	return fmt.Sprintf("event at position %d (stream %q, version %d): %v", e.pos, e.stream, e.version, e.err)
}

func (e *applyError) Unwrap() error { return e.err }
