package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/julienschmidt/httprouter"

	"github.com/eventd/eventd/engine"
	"github.com/eventd/eventd/engine/command"
)

// Error codes of commands (docs/api.md "Conventions").
const (
	codeDuplicateCommand = "duplicate_command"
	codeCommandFailed    = command.CodeCommandFailed
	codeUnknownCommand   = "unknown_command"
)

// commandRoutes are the routes of commands and command handlers
// (docs/api.md "POST /api/commands", "Command handlers").
func (s *Server) commandRoutes() []route {
	return []route{
		{"POST", "/api/commands", RoleWrite, false, s.handleCommand},
		{"GET", "/api/commands/:commandId/status", RoleRead, false, s.handleCommandStatus},
		{"PUT", "/api/command-handlers/:commandType", RoleAdmin, false, s.handlePutCommandHandler},
		{"GET", "/api/command-handlers", RoleRead, false, s.handleListCommandHandlers},
		{"GET", "/api/command-handlers/:commandType", RoleRead, false, s.handleGetCommandHandler},
	}
}

// commands returns the command service, or answers 503 when the daemon
// runs without one.
func (s *Server) commands(w http.ResponseWriter) *command.Service {
	if s.cfg.Commands == nil {
		writeError(w, errf(http.StatusServiceUnavailable, codeUnavailable, "commands are not available in this server"))
	}
	return s.cfg.Commands
}

// commandBody is the body of POST /api/commands.
type commandBody struct {
	CommandType     *string         `json:"commandType"`
	CommandData     json.RawMessage `json:"commandData"`
	Metadata        json.RawMessage `json:"metadata"`
	CommandID       *string         `json:"commandId"`
	ExpectedVersion json.RawMessage `json:"expectedVersion"`
	Async           *bool           `json:"async"`
}

// parseCommand reads a command body into a request; the Prefer header may
// ask for async too (either asking is enough).
func parseCommand(body []byte, prefer bool) (command.Request, *apiError) {
	var b commandBody
	if e := decodeStrict(body, &b); e != nil {
		return command.Request{}, e
	}
	req := command.Request{Expected: engine.Any, Async: prefer || (b.Async != nil && *b.Async)}
	if b.CommandType == nil {
		return req, badRequest("missing field \"commandType\"")
	}
	req.Type = *b.CommandType
	if len(b.CommandData) == 0 || isNull(b.CommandData) {
		return req, badRequest("missing field \"commandData\" (a JSON object)")
	}
	if b.CommandData[0] != '{' {
		return req, wrongType("commandData", "a JSON object", b.CommandData)
	}
	req.Data = b.CommandData
	if len(b.Metadata) > 0 && !isNull(b.Metadata) {
		if b.Metadata[0] != '{' {
			return req, wrongType("metadata", "a JSON object", b.Metadata)
		}
		req.Metadata = b.Metadata
	}
	if b.CommandID != nil {
		if n := len(*b.CommandID); n == 0 || n > command.MaxIDLen {
			return req, badRequest("commandId must be 1 to " + strconv.Itoa(command.MaxIDLen) + " bytes, got " + strconv.Itoa(n))
		}
		if strings.IndexByte(*b.CommandID, '/') >= 0 {
			// No path can name it: an encoded slash is refused (ServeHTTP).
			return req, badRequest("commandId must not contain '/': GET /api/commands/{commandId}/status could not name it")
		}
		req.ID = *b.CommandID
	}
	if len(b.ExpectedVersion) > 0 {
		exp, e := parseExpected(b.ExpectedVersion)
		if e != nil {
			return req, e
		}
		req.Expected, req.ExpectedRaw = exp.v, exp.raw
	}
	return req, nil
}

// prefersAsync reports whether a Prefer header (RFC 7240) asks for
// respond-async.
func prefersAsync(r *http.Request) bool {
	for _, v := range r.Header.Values("Prefer") {
		for _, pref := range strings.Split(v, ",") {
			tok, _, _ := strings.Cut(pref, ";")
			tok, _, _ = strings.Cut(tok, "=")
			if strings.EqualFold(strings.TrimSpace(tok), "respond-async") {
				return true
			}
		}
	}
	return false
}

// handleCommand is POST /api/commands: 201 with the command and its
// result, 202 with a pending command (async), or the recorded failure's
// answer (422 command_failed, 409 wrong_expected_version); a resend of a
// known command id answers as the first send did.
func (s *Server) handleCommand(w http.ResponseWriter, r *http.Request, _ httprouter.Params) {
	svc := s.commands(w)
	if svc == nil {
		return
	}
	bp, e := s.readBody(w, r)
	if e != nil {
		writeError(w, e)
		return
	}
	defer putBuf(bp) // Submit keeps no reference to the body once it returns
	prefer := prefersAsync(r)
	req, e := parseCommand(*bp, prefer)
	if e != nil {
		writeError(w, e)
		return
	}
	out, err := svc.Submit(r.Context(), req)
	if err != nil {
		writeError(w, commandError(err))
		return
	}
	if prefer {
		w.Header().Set("Preference-Applied", "respond-async")
	}
	writeOutcome(w, out)
}

// writeOutcome answers with a command's outcome as POST /api/commands does.
func writeOutcome(w http.ResponseWriter, out command.Outcome) {
	switch out.Command.Status {
	case command.Failed:
		f := out.Failure
		writeError(w, &apiError{status: f.HTTPStatus, code: f.Code, msg: f.Message, details: f.Details})
		return
	case command.Completed:
		bp := startOK()
		b := append(*bp, `{"command":`...)
		b = appendCommand(b, &out.Command)
		b = append(b, `,"result":`...)
		b = appendResult(b, out.Result)
		*bp = append(b, '}')
		sendOK(w, http.StatusCreated, bp)
	default:
		w.Header().Set("Location", "/api/commands/"+url.PathEscape(out.Command.ID)+"/status")
		bp := startOK()
		b := append(*bp, `{"command":`...)
		b = appendCommand(b, &out.Command)
		*bp = append(b, '}')
		sendOK(w, http.StatusAccepted, bp)
	}
}

// handleCommandStatus is GET /api/commands/{commandId}/status: the
// command, with "result" once completed.
func (s *Server) handleCommandStatus(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
	svc := s.commands(w)
	if svc == nil {
		return
	}
	id := ps.ByName("commandId")
	if len(id) > command.MaxIDLen {
		writeError(w, badRequest("commandId must be 1 to "+strconv.Itoa(command.MaxIDLen)+" bytes, got "+strconv.Itoa(len(id))))
		return
	}
	out, err := svc.Status(id)
	if err != nil {
		writeError(w, commandError(err))
		return
	}
	bp := startOK()
	b := appendCommand(*bp, &out.Command)
	if out.Result != nil {
		b = append(b[:len(b)-1], `,"result":`...)
		b = appendResult(b, out.Result)
		b = append(b, '}')
	}
	*bp = b
	sendOK(w, http.StatusOK, bp)
}

// commandError maps the errors of the command service (nothing was
// recorded for the request) to answers.
func commandError(err error) *apiError {
	var ie *command.InputError
	switch {
	case errors.As(err, &ie) && errors.Is(err, command.ErrUnknownCommand):
		return errf(http.StatusBadRequest, codeUnknownCommand, ie.Msg)
	case errors.As(err, &ie) && errors.Is(err, engine.ErrInvalidEventType):
		return errf(http.StatusBadRequest, codeInvalidEventType, ie.Msg)
	case errors.As(err, &ie):
		return badRequest(ie.Msg)
	case errors.Is(err, command.ErrDuplicateCommand):
		return errf(http.StatusConflict, codeDuplicateCommand, "this commandId was used by a different command (another commandType or commandData); a resend must repeat both")
	case errors.Is(err, command.ErrNotFound):
		return errf(http.StatusNotFound, codeNotFound, "no command has this id")
	case errors.Is(err, command.ErrClosed):
		return errf(http.StatusServiceUnavailable, codeUnavailable, "the command service is closing")
	}
	return storeError(err)
}

// appendCommand renders {"id","commandType","status","createdAt",
// "processedAt","error"}.
func appendCommand(b []byte, c *command.Command) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, c.ID)
	b = append(b, `,"commandType":`...)
	b = appendString(b, c.Type)
	b = append(b, `,"status":"`...)
	b = append(b, c.Status.String()...)
	b = append(b, `","createdAt":`...)
	b = appendTime(b, c.CreatedAt)
	b = append(b, `,"processedAt":`...)
	if c.ProcessedAt.IsZero() {
		b = append(b, "null"...)
	} else {
		b = appendTime(b, c.ProcessedAt)
	}
	b = append(b, `,"error":`...)
	if c.Status == command.Failed {
		b = appendString(b, c.Error)
	} else {
		b = append(b, "null"...)
	}
	return append(b, '}')
}

// appendResult renders {"streamId","version","events":[{"eventId",
// "streamId","version","position","eventType"}...]}.
func appendResult(b []byte, res *command.Result) []byte {
	b = append(b, `{"streamId":`...)
	b = appendString(b, res.StreamID)
	b = append(b, `,"version":`...)
	b = appendUint(b, res.Version)
	b = append(b, `,"events":[`...)
	for i := range res.Events {
		e := &res.Events[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"eventId":`...)
		b = appendString(b, e.ID)
		b = append(b, `,"streamId":`...)
		b = appendString(b, e.StreamID)
		b = append(b, `,"version":`...)
		b = appendUint(b, e.Version)
		b = append(b, `,"position":`...)
		b = appendUint(b, e.Position)
		b = append(b, `,"eventType":`...)
		b = appendString(b, e.Type)
		b = append(b, '}')
	}
	return append(b, "]}"...)
}
