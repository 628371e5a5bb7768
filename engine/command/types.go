package command

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/eventd/eventd/engine"
)

// Status is where a command is in its life.
type Status uint8

const (
	// Pending: an async command accepted ($commands CommandAccepted) and
	// not started yet.
	Pending Status = iota + 1
	// Processing: being decided and written (in memory only: after a crash
	// an unfinished async command is Pending again and runs once).
	Processing
	// Completed: its events and CommandCompleted were written together.
	Completed
	// Failed: CommandFailed was written; nothing else.
	Failed
)

func (s Status) String() string {
	switch s {
	case Pending:
		return "pending"
	case Processing:
		return "processing"
	case Completed:
		return "completed"
	case Failed:
		return "failed"
	}
	return "unknown"
}

// Final reports whether s can no longer change.
func (s Status) Final() bool { return s == Completed || s == Failed }

// Request is one command as a client sent it.
type Request struct {
	// ID makes the command idempotent (1–MaxIDLen bytes); empty: the
	// service makes a UUIDv7.
	ID   string
	Type string
	// Data is the commandData object, as sent. It is part of the
	// command's identity (with Type); nothing else is.
	Data []byte
	// Metadata is a JSON object or empty; the events get it with
	// "commandId" added.
	Metadata []byte
	// Expected is the client's expected version of the aggregate. The
	// zero value means absent (no check, like engine.Any): "no stream" is
	// engine.NoStream. ExpectedRaw is the JSON the client sent, repeated
	// in a conflict's details (nil when absent).
	Expected    engine.ExpectedVersion
	ExpectedRaw []byte
	// Async: answer Pending at once and run it in the background.
	Async bool
}

// MaxIDLen bounds a command id, in bytes.
const MaxIDLen = 128

// Command is a command's status as the API shows it.
type Command struct {
	ID          string
	Type        string
	Status      Status
	CreatedAt   time.Time
	ProcessedAt time.Time // zero until Completed or Failed
	Error       string    // the reason, when Failed
}

// Result is what a completed command wrote.
type Result struct {
	StreamID string
	Version  uint64 // the aggregate's version after the command
	Events   []ResultEvent
}

// ResultEvent is one event a command wrote.
type ResultEvent struct {
	ID       string
	StreamID string
	Version  uint64
	Position uint64
	Type     string
}

// Failure is the answer a failed command got, recorded with it so that a
// resend (even after a restart) gets the same answer: the HTTP status and
// error code, the message (= Command.Error) and the details object.
type Failure struct {
	HTTPStatus int
	Code       string
	Message    string
	Details    json.RawMessage // a JSON object, or nil
}

// The failures a command can record (docs/api.md "POST /api/commands").
const (
	// CodeCommandFailed (422): a domain rule is broken.
	CodeCommandFailed = "command_failed"
	// CodeWrongExpectedVersion (409): the client's expectedVersion does
	// not match, or the aggregate kept changing under the command (a
	// conflict after MaxRetries re-decisions).
	CodeWrongExpectedVersion = "wrong_expected_version"
	// CodeSchemaViolation (422): the event the command decided on does not
	// match its type's JSON Schema (engine.SchemaViolationError).
	CodeSchemaViolation = "schema_violation"

	statusUnprocessable = 422 // HTTP 422 Unprocessable Content
	statusConflict      = 409 // HTTP 409 Conflict
)

// Outcome is the answer to a command: its status, plus the Result when
// Completed or the Failure when Failed.
type Outcome struct {
	Command Command
	Result  *Result
	Failure *Failure
}

var (
	// ErrUnknownCommand: no handler for the command type (nothing written).
	ErrUnknownCommand = errors.New("command: unknown command type")
	// ErrInvalid: a request or handler definition the service refuses
	// before writing anything (a bad command id, commandData not an
	// object, a handler definition that breaks a rule).
	ErrInvalid = errors.New("command: invalid input")
	// ErrDuplicateCommand: the command id was used by another command
	// (another type or commandData). Nothing written.
	ErrDuplicateCommand = errors.New("command: the command id is taken by a different command")
	// ErrNotFound: no command has that id.
	ErrNotFound = errors.New("command: no such command")
	// ErrClosed: the service is closed.
	ErrClosed = errors.New("command: service is closed")
)

// InputError is input the service refuses before writing anything. It
// matches (errors.Is) its Kind: ErrUnknownCommand, ErrInvalid or
// engine.ErrInvalidEventType.
type InputError struct {
	Kind error
	Msg  string
}

func (e *InputError) Error() string { return e.Msg }
func (e *InputError) Unwrap() error { return e.Kind }

func inputErr(kind error, msg string) error { return &InputError{Kind: kind, Msg: msg} }
