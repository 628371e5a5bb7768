package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Command is a command to send (POST /api/commands).
type Command struct {
	Type string // commandType, e.g. "CreateUser"
	// Data is the commandData, a JSON object (a struct, a map or
	// json.RawMessage). nil sends {}.
	Data any
	// Metadata is given to the events the command writes (nil: none).
	Metadata any
	// ID is the commandId (1–128 bytes, no "/"). With an ID the command is
	// idempotent: the same ID, type and data run once, every resend gets
	// the first outcome, and the client retries it on transient failures.
	// Empty: the daemon makes one (or the client, with WithAutoIDs).
	ID string
	// ExpectedVersion is the aggregate's version the command expects.
	ExpectedVersion ExpectedVersion
}

// CommandState is the status of a command.
type CommandState string

const (
	CommandPending    CommandState = "pending"
	CommandProcessing CommandState = "processing"
	CommandCompleted  CommandState = "completed"
	CommandFailed     CommandState = "failed"
)

// CommandStatus is a command's state and, once completed, its result.
type CommandStatus struct {
	ID          string       `json:"id"`
	CommandType string       `json:"commandType"`
	Status      CommandState `json:"status"`
	CreatedAt   time.Time    `json:"createdAt"`
	ProcessedAt *time.Time   `json:"processedAt"` // nil until completed or failed
	// Error is why it failed ("" unless Status is CommandFailed).
	Error string `json:"error"`
	// Result is set once the command completed.
	Result *CommandResult `json:"result,omitempty"`
}

// Done reports whether the command has completed or failed.
func (s *CommandStatus) Done() bool { return s.Status == CommandCompleted || s.Status == CommandFailed }

// CommandResult is what a completed command wrote.
type CommandResult struct {
	StreamID string         `json:"streamId"`
	Version  uint64         `json:"version"`
	Events   []CommandEvent `json:"events"`
}

// CommandEvent is one event a command wrote.
type CommandEvent struct {
	EventID   string `json:"eventId"`
	StreamID  string `json:"streamId"`
	Version   uint64 `json:"version"`
	Position  uint64 `json:"position"`
	EventType string `json:"eventType"`
}

// LastPosition is the position of the command's last event (0: none):
// pass it as QueryOptions.MinPosition to read the command's own write.
func (r *CommandResult) LastPosition() uint64 {
	var p uint64
	for _, e := range r.Events {
		p = max(p, e.Position)
	}
	return p
}

// SendCommand runs a command synchronously. On success the status is
// CommandCompleted with its Result. A resend of an async command that is
// still running answers its current status (CommandPending or
// CommandProcessing): wait for it with WaitCommand. A broken domain rule is
// ErrCommandFailed (422), a version mismatch ErrWrongExpectedVersion, an
// unknown type ErrUnknownCommand, an ID reused for another command
// ErrDuplicateCommand.
func (c *Client) SendCommand(ctx context.Context, cmd Command) (*CommandStatus, error) {
	return c.sendCommand(ctx, cmd, false)
}

// SendCommandAsync submits a command to run in the background (Prefer:
// respond-async) and returns its status, usually CommandPending; follow it
// with CommandStatus or WaitCommand. Rules on the command's data alone are
// checked at once (ErrCommandFailed); those against the aggregate's state
// when it runs. A resend of a finished command answers its outcome.
func (c *Client) SendCommandAsync(ctx context.Context, cmd Command) (*CommandStatus, error) {
	return c.sendCommand(ctx, cmd, true)
}

func (c *Client) sendCommand(ctx context.Context, cmd Command, async bool) (*CommandStatus, error) {
	body := struct {
		CommandType     string           `json:"commandType"`
		CommandData     any              `json:"commandData"`
		Metadata        any              `json:"metadata,omitempty"`
		CommandID       string           `json:"commandId,omitempty"`
		ExpectedVersion *ExpectedVersion `json:"expectedVersion,omitempty"`
	}{CommandType: cmd.Type, CommandData: cmd.Data, Metadata: cmd.Metadata, CommandID: cmd.ID,
		ExpectedVersion: expectedPtr(cmd.ExpectedVersion)}
	if body.CommandData == nil {
		body.CommandData = json.RawMessage("{}")
	}
	if body.CommandID == "" && c.autoIDs {
		body.CommandID = NewID()
	}
	r := &request{method: http.MethodPost, path: "/api/commands", body: body, idempotent: body.CommandID != ""}
	if async {
		r.header = http.Header{"Prefer": {"respond-async"}}
	}
	var out struct {
		Command CommandStatus  `json:"command"`
		Result  *CommandResult `json:"result"`
	}
	if _, err := c.do(ctx, r, &out); err != nil {
		return nil, err
	}
	out.Command.Result = out.Result
	return &out.Command, nil
}

// CommandStatus reads a command's status (GET
// /api/commands/{commandId}/status). Unknown id: ErrNotFound.
func (c *Client) CommandStatus(ctx context.Context, commandID string) (*CommandStatus, error) {
	if err := checkSegment("CommandStatus", "command id", commandID); err != nil {
		return nil, err
	}
	var out CommandStatus
	if _, err := c.do(ctx, &request{method: http.MethodGet, path: "/api/commands/" + escape(commandID) + "/status",
		idempotent: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Polling intervals of WaitCommand.
const (
	waitFirstPoll = 20 * time.Millisecond
	waitMaxPoll   = time.Second
)

// WaitCommand polls a command's status, with a growing interval (20ms up
// to 1s, jittered), until it has completed or failed, or ctx ends.
//
// Completed: the status (with its Result) and nil. Failed: the status and
// a *CommandFailedError (errors.Is(err, ErrCommandFailed)). ctx ended: the
// last status read (possibly nil) and ctx's error. Transient failures of a
// poll (network errors, 503) do not end the wait; other error answers (an
// unknown id: ErrNotFound) do.
func (c *Client) WaitCommand(ctx context.Context, commandID string) (*CommandStatus, error) {
	var last *CommandStatus
	var lastErr error
	for n := 1; ; n++ {
		st, err := c.CommandStatus(ctx, commandID)
		switch {
		case err == nil:
			last, lastErr = st, nil
			switch st.Status {
			case CommandCompleted:
				return st, nil
			case CommandFailed:
				return st, &CommandFailedError{Command: st}
			}
		case ctx.Err() != nil:
		default:
			var ae *APIError
			if errors.As(err, &ae) && !ae.Temporary() {
				return last, err
			}
			lastErr = err
		}
		if err := sleep(ctx, jittered(capped(waitFirstPoll, waitMaxPoll, n))); err != nil {
			if lastErr != nil {
				return last, fmt.Errorf("%w (last poll: %v)", err, lastErr)
			}
			return last, err
		}
	}
}

// CommandHandlerDefinition registers a command type that writes one event
// (PUT /api/command-handlers/{commandType}).
type CommandHandlerDefinition struct {
	EventType    string `json:"eventType"`
	StreamIDFrom string `json:"streamIdFrom"` // "commandData.<field>"
	Expect       string `json:"expect"`       // "new", "existing" or "any"
	Data         string `json:"data,omitempty"`
}

// Values of CommandHandlerDefinition.Expect.
const (
	ExpectNew      = "new"
	ExpectExisting = "existing"
	ExpectAny      = "any"
)

// CommandHandler is a registered (or built-in) command handler.
type CommandHandler struct {
	CommandType  string         `json:"commandType"`
	EventType    string         `json:"eventType"`
	StreamIDFrom string         `json:"streamIdFrom"`
	Expect       string         `json:"expect"`
	Data         string         `json:"data"`
	BuiltIn      bool           `json:"builtIn"`
	Fields       []HandlerField `json:"fields"`    // built-ins: the commandData they take
	UpdatedAt    *time.Time     `json:"updatedAt"` // nil for built-ins
}

// HandlerField is one commandData field a built-in handler takes.
type HandlerField struct {
	Name string `json:"name"`
	Kind string `json:"kind"` // "string" or "object"
}

// PutCommandHandler registers or replaces the handler of a command type.
// An identical definition writes nothing, so the call is retried like a
// read.
func (c *Client) PutCommandHandler(ctx context.Context, commandType string, def CommandHandlerDefinition) (*CommandHandler, error) {
	if err := checkSegment("PutCommandHandler", "command type", commandType); err != nil {
		return nil, err
	}
	var out CommandHandler
	if _, err := c.do(ctx, &request{method: http.MethodPut, path: "/api/command-handlers/" + escape(commandType),
		body: def, idempotent: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetCommandHandler reads one command handler (ErrNotFound if none).
func (c *Client) GetCommandHandler(ctx context.Context, commandType string) (*CommandHandler, error) {
	if err := checkSegment("GetCommandHandler", "command type", commandType); err != nil {
		return nil, err
	}
	var out CommandHandler
	if _, err := c.do(ctx, &request{method: http.MethodGet, path: "/api/command-handlers/" + escape(commandType),
		idempotent: true}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ListCommandHandlers lists every command handler, built-ins included, in
// command-type order.
func (c *Client) ListCommandHandlers(ctx context.Context) ([]CommandHandler, error) {
	var out struct {
		Handlers []CommandHandler `json:"handlers"`
	}
	if _, err := c.do(ctx, &request{method: http.MethodGet, path: "/api/command-handlers", idempotent: true}, &out); err != nil {
		return nil, err
	}
	return out.Handlers, nil
}
