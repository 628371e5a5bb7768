package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// The API's error codes (the "code" of the error envelope). Each sentinel
// below matches an *APIError carrying that code:
//
//	if errors.Is(err, client.ErrWrongExpectedVersion) { ... }
const (
	CodeBadRequest           = "bad_request"
	CodeInvalidJSON          = "invalid_json"
	CodeInvalidStreamID      = "invalid_stream_id"
	CodeInvalidEventType     = "invalid_event_type"
	CodeNotFound             = "not_found"
	CodeWrongExpectedVersion = "wrong_expected_version"
	CodeDuplicateEvent       = "duplicate_event"
	CodeDuplicateCommand     = "duplicate_command"
	CodeCommandFailed        = "command_failed"
	CodeUnknownCommand       = "unknown_command"
	CodeSchemaViolation      = "schema_violation"
	CodePayloadTooLarge      = "payload_too_large"
	CodeUnauthorized         = "unauthorized"
	CodeForbidden            = "forbidden"
	CodeUnavailable          = "unavailable"
	CodeInternal             = "internal"
)

// Sentinels for errors.Is, one per API error code.
var (
	ErrBadRequest           error = codeError(CodeBadRequest)
	ErrInvalidJSON          error = codeError(CodeInvalidJSON)
	ErrInvalidStreamID      error = codeError(CodeInvalidStreamID)
	ErrInvalidEventType     error = codeError(CodeInvalidEventType)
	ErrNotFound             error = codeError(CodeNotFound)
	ErrWrongExpectedVersion error = codeError(CodeWrongExpectedVersion)
	ErrDuplicateEvent       error = codeError(CodeDuplicateEvent)
	ErrDuplicateCommand     error = codeError(CodeDuplicateCommand)
	ErrCommandFailed        error = codeError(CodeCommandFailed)
	ErrUnknownCommand       error = codeError(CodeUnknownCommand)
	ErrSchemaViolation      error = codeError(CodeSchemaViolation)
	ErrPayloadTooLarge      error = codeError(CodePayloadTooLarge)
	ErrUnauthorized         error = codeError(CodeUnauthorized)
	ErrForbidden            error = codeError(CodeForbidden)
	ErrUnavailable          error = codeError(CodeUnavailable)
	ErrInternal             error = codeError(CodeInternal)
)

// ErrNoMorePages is returned by the Next method of a page that has none
// after it (its HasNext is false).
var ErrNoMorePages = errors.New("eventd client: no more pages")

// codeError is the type of the sentinels: it matches by code.
type codeError string

func (c codeError) Error() string { return "eventd: " + string(c) }

// APIError is an error answer of the daemon: its HTTP status and the error
// envelope {"error", "code", "details"?}.
type APIError struct {
	Status  int             // HTTP status, e.g. 409
	Code    string          // machine code, e.g. "wrong_expected_version" (Code* constants)
	Message string          // the envelope's human message ("error")
	Details json.RawMessage // the envelope's "details" object, if any
}

func (e *APIError) Error() string {
	return fmt.Sprintf("eventd: %d %s: %s", e.Status, e.Code, e.Message)
}

// Is makes errors.Is(err, ErrNotFound) (and every other sentinel) match an
// APIError with that code.
func (e *APIError) Is(target error) bool {
	c, ok := target.(codeError)
	return ok && e.Code == string(c)
}

// Temporary reports whether the same request may succeed later (503).
func (e *APIError) Temporary() bool { return e.Status == http.StatusServiceUnavailable }

// VersionConflict is the details of a 409 wrong_expected_version answer.
type VersionConflict struct {
	// ExpectedVersion repeats the JSON value the request sent (a number, or
	// "no_stream", "exists"), or for a command that conflicted with
	// concurrent appends, the version it last decided against.
	ExpectedVersion json.RawMessage `json:"expectedVersion"`
	// CurrentVersion is the stream's version when the append was refused.
	CurrentVersion uint64 `json:"currentVersion"`
}

// VersionConflict returns the details of a wrong_expected_version error;
// ok is false for any other error.
func (e *APIError) VersionConflict() (c VersionConflict, ok bool) {
	if e.Code != CodeWrongExpectedVersion || len(e.Details) == 0 {
		return c, false
	}
	if json.Unmarshal(e.Details, &c) != nil {
		return VersionConflict{}, false
	}
	return c, true
}

// CurrentVersion returns the stream's current version carried by a
// wrong_expected_version error anywhere in err's chain.
func CurrentVersion(err error) (uint64, bool) {
	var ae *APIError
	if !errors.As(err, &ae) {
		return 0, false
	}
	c, ok := ae.VersionConflict()
	return c.CurrentVersion, ok
}

// SchemaViolation is the details of a 422 schema_violation answer. An
// append refused by a JSON Schema fills Event, EventType, SchemaVersion and
// Violations; a read that met an event its upcaster chain cannot upcast
// fills Position, EventType and SchemaVersion.
type SchemaViolation struct {
	Event         int         `json:"event"` // index of the event in the append
	Position      uint64      `json:"position,omitempty"`
	EventType     string      `json:"eventType"`
	SchemaVersion int         `json:"schemaVersion"`
	Violations    []Violation `json:"violations,omitempty"`
}

// Violation is one failed JSON Schema check.
type Violation struct {
	Path    string `json:"path"` // JSON pointer into eventData ("" = the object)
	Message string `json:"message"`
}

// SchemaViolation returns the details of a schema_violation error.
func (e *APIError) SchemaViolation() (v SchemaViolation, ok bool) {
	if e.Code != CodeSchemaViolation || len(e.Details) == 0 {
		return v, false
	}
	if json.Unmarshal(e.Details, &v) != nil {
		return SchemaViolation{}, false
	}
	return v, true
}

// codeForStatus names the code of an answer that came without an envelope
// (e.g. from a proxy in front of the daemon).
func codeForStatus(status int) string {
	switch status {
	case http.StatusBadRequest, http.StatusMethodNotAllowed:
		return CodeBadRequest
	case http.StatusUnauthorized:
		return CodeUnauthorized
	case http.StatusForbidden:
		return CodeForbidden
	case http.StatusNotFound:
		return CodeNotFound
	case http.StatusRequestEntityTooLarge:
		return CodePayloadTooLarge
	case http.StatusServiceUnavailable, http.StatusBadGateway, http.StatusGatewayTimeout:
		return CodeUnavailable
	}
	if status >= 500 {
		return CodeInternal
	}
	return ""
}

// CommandFailedError is returned by WaitCommand when the command ended in
// the failed status. errors.Is(err, ErrCommandFailed) is true for it
// whatever the original answer's code was (the status endpoint keeps only
// the message); resend the same command (same ID and data) to get that
// answer again as an *APIError.
type CommandFailedError struct {
	Command *CommandStatus // its final status; Command.Error is the reason
}

func (e *CommandFailedError) Error() string {
	return fmt.Sprintf("eventd: command %s (%s) failed: %s", e.Command.ID, e.Command.CommandType, e.Command.Error)
}

// Is matches ErrCommandFailed.
func (e *CommandFailedError) Is(target error) bool { return target == ErrCommandFailed }
