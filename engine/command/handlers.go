package command

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/eventd/eventd/engine"
	"github.com/eventd/eventd/engine/jsonv"
	"github.com/eventd/eventd/engine/reducer"
)

// Expect is what a handler demands of the aggregate (the stream it writes)
// before it runs.
type Expect string

const (
	// ExpectNew: the stream must have no events.
	ExpectNew Expect = "new"
	// ExpectExisting: the stream must have events, and its state (folded
	// by its reducer) must not say "deleted": true.
	ExpectExisting Expect = "existing"
	// ExpectAny: no condition.
	ExpectAny Expect = "any"
)

// HandlerDef defines a command handler: a command of its type writes one
// event of EventType, with the data named by Data, to the stream named by
// StreamIDFrom, if the stream meets Expect.
type HandlerDef struct {
	EventType    string
	StreamIDFrom string // "commandData.<path>"; path: dot-separated field names
	Expect       Expect
	Data         string // "commandData" or "commandData.<path>" (an object)
}

// Handler is a command handler as listed.
type Handler struct {
	CommandType string
	HandlerDef
	// BuiltIn handlers (the user domain) cannot be replaced. Their
	// commandData must have exactly Fields, each non-empty.
	BuiltIn bool
	Fields  []Field
	// UpdatedAt is when a registered definition was written (its
	// $command-handlers event's timestamp); zero for built-ins.
	UpdatedAt time.Time
}

// Field is a commandData field a built-in handler requires.
type Field struct {
	Name string
	Kind string // "string" (non-empty) or "object" (with at least one member)
}

// maxPathLen bounds StreamIDFrom and Data.
const maxPathLen = 256

// builtIns are the seed's user domain. The event data is commandData
// itself (its fields are exactly those listed), so the default reducer
// folds UserCreated {userId, email, name} into the user, merges
// UserUpdated's "updates", and marks UserDeleted deleted.
var builtIns = func() map[string]*handler {
	mk := func(typ, event string, exp Expect, fields ...Field) *handler {
		h := &handler{Handler: Handler{CommandType: typ, BuiltIn: true, Fields: fields,
			HandlerDef: HandlerDef{EventType: event, StreamIDFrom: "commandData.userId", Expect: exp, Data: "commandData"}}}
		h.compile()
		return h
	}
	userID := Field{"userId", "string"}
	return map[string]*handler{
		"CreateUser": mk("CreateUser", "UserCreated", ExpectNew, userID, Field{"email", "string"}, Field{"name", "string"}),
		"UpdateUser": mk("UpdateUser", "UserUpdated", ExpectExisting, userID, Field{"updates", "object"}),
		"DeleteUser": mk("DeleteUser", "UserDeleted", ExpectExisting, userID),
	}
}()

// handler is a Handler ready to run: its paths split once.
type handler struct {
	Handler
	streamPath []string
	dataPath   []string // empty: the whole commandData
}

func (h *handler) compile() {
	h.streamPath, _ = splitPath(h.StreamIDFrom)
	h.dataPath, _ = splitPath(h.Data)
}

// newHandler checks a definition for commandType and compiles it. Errors
// are *InputError (ErrInvalid, engine.ErrInvalidEventType).
func newHandler(commandType string, d HandlerDef) (*handler, error) {
	if err := checkCommandType(commandType); err != nil {
		return nil, err
	}
	if _, ok := builtIns[commandType]; ok {
		return nil, inputErr(ErrInvalid, "command type "+strconv.Quote(commandType)+" is built in: it cannot be replaced")
	}
	if err := engine.ValidateEventType(d.EventType); err != nil {
		return nil, inputErr(engine.ErrInvalidEventType, "eventType: "+err.Error())
	}
	if p, ok := splitPath(d.StreamIDFrom); !ok || len(p) == 0 {
		return nil, inputErr(ErrInvalid, "streamIdFrom "+quoteShort(d.StreamIDFrom)+": want \"commandData.<field>\" (a dotted path of non-empty field names, at most "+strconv.Itoa(maxPathLen)+" bytes)")
	}
	if _, ok := splitPath(d.Data); !ok {
		return nil, inputErr(ErrInvalid, "data "+quoteShort(d.Data)+": want \"commandData\" or \"commandData.<field>\" (a dotted path of non-empty field names, at most "+strconv.Itoa(maxPathLen)+" bytes)")
	}
	switch d.Expect {
	case ExpectNew, ExpectExisting, ExpectAny:
	default:
		return nil, inputErr(ErrInvalid, "expect "+quoteShort(string(d.Expect))+": want \"new\", \"existing\" or \"any\"")
	}
	h := &handler{Handler: Handler{CommandType: commandType, HandlerDef: d}}
	h.compile()
	return h, nil
}

// checkCommandType applies the event-type syntax to command types: they
// name things the same way and appear in the same places (paths, logs).
func checkCommandType(t string) error {
	if engine.ValidateEventType(t) != nil {
		return inputErr(ErrInvalid, "invalid command type "+quoteShort(t)+": want 1 to "+strconv.Itoa(engine.MaxEventTypeLen)+
			" bytes of [A-Za-z0-9_.:-], starting with a letter")
	}
	return nil
}

// splitPath splits "commandData" (→ no fields) or "commandData.a.b" (→
// [a b]); ok is false for anything else.
func splitPath(p string) ([]string, bool) {
	if len(p) > maxPathLen {
		return nil, false
	}
	if p == "commandData" {
		return nil, true
	}
	rest, found := strings.CutPrefix(p, "commandData.")
	if !found {
		return nil, false
	}
	parts := strings.Split(rest, ".")
	if slices.Contains(parts, "") {
		return nil, false
	}
	return parts, true
}

// lookup walks path in data; ok is false when a step is missing or not an
// object.
func lookup(data map[string]any, path []string) (any, bool) {
	var v any = data
	for _, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

// plan checks a command's data without reading the log and names the
// stream it writes. A non-empty reason is a broken rule (422).
func (h *handler) plan(data map[string]any) (stream, reason string) {
	if h.BuiltIn {
		if r := h.checkFields(data); r != "" {
			return "", r
		}
	}
	v, ok := lookup(data, h.streamPath)
	if !ok || v == nil {
		return "", h.StreamIDFrom + " is missing: " + h.CommandType + " needs it (the stream id)"
	}
	stream, ok = v.(string)
	if !ok {
		return "", h.StreamIDFrom + " must be a string (the stream id), got " + kindOf(v)
	}
	if err := engine.ValidateClientStreamID(stream); err != nil {
		return "", h.StreamIDFrom + ": " + err.Error()
	}
	if len(h.dataPath) > 0 {
		d, ok := lookup(data, h.dataPath)
		if !ok || d == nil {
			return "", h.Data + " is missing: " + h.CommandType + " writes it as the event's data"
		}
		if _, ok := d.(map[string]any); !ok {
			return "", h.Data + " must be an object (it becomes the event's data), got " + kindOf(d)
		}
	}
	return stream, ""
}

// checkFields applies a built-in's field list: each present, of its kind,
// non-empty; no others (a misspelt field must not be dropped silently).
func (h *handler) checkFields(data map[string]any) string {
	for _, f := range h.Fields {
		v, ok := data[f.Name]
		if !ok || v == nil {
			return "commandData." + f.Name + " is missing: " + h.CommandType + " needs " + fieldList(h.Fields)
		}
		switch f.Kind {
		case "string":
			s, ok := v.(string)
			if !ok {
				return "commandData." + f.Name + " must be a string, got " + kindOf(v)
			}
			if strings.TrimSpace(s) == "" {
				return "commandData." + f.Name + " is empty: " + h.CommandType + " needs a value"
			}
		case "object":
			m, ok := v.(map[string]any)
			if !ok {
				return "commandData." + f.Name + " must be an object, got " + kindOf(v)
			}
			if len(m) == 0 {
				return "commandData." + f.Name + " is empty: " + h.CommandType + " needs at least one field in it"
			}
		}
	}
	if len(data) > len(h.Fields) {
		keys := make([]string, 0, len(data))
		for k := range data {
			if !slices.ContainsFunc(h.Fields, func(f Field) bool { return f.Name == k }) {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys)
		return "commandData has unknown field " + quoteShort(keys[0]) + ": " + h.CommandType + " takes " + fieldList(h.Fields)
	}
	return ""
}

func fieldList(fs []Field) string {
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.Name
	}
	return "{" + strings.Join(names, ", ") + "}"
}

// needsState reports whether decide looks at the aggregate's state (and
// not only its version): only then is the stream replayed.
func (h *handler) needsState() bool { return h.Expect == ExpectExisting }

// aggregate is the stream a command writes, as decided on.
type aggregate struct {
	id      string
	version uint64
	state   reducer.State // nil unless needsState
}

// decide checks the aggregate against Expect and returns the event to
// write; a non-empty reason is a broken rule (422).
func (h *handler) decide(agg aggregate, data map[string]any, raw []byte) (engine.Proposed, string) {
	switch h.Expect {
	case ExpectNew:
		if agg.version > 0 {
			return engine.Proposed{}, fmt.Sprintf("stream %s already exists (version %d): %s needs a new stream", quoteShort(agg.id), agg.version, h.CommandType)
		}
	case ExpectExisting:
		if agg.version == 0 {
			return engine.Proposed{}, fmt.Sprintf("stream %s does not exist: %s needs an existing stream", quoteShort(agg.id), h.CommandType)
		}
		if agg.state["deleted"] == true {
			return engine.Proposed{}, fmt.Sprintf("stream %s is deleted (version %d): %s needs a stream that is not", quoteShort(agg.id), agg.version, h.CommandType)
		}
	}
	ev := engine.Proposed{Type: h.EventType, Data: raw}
	if len(h.dataPath) > 0 {
		d, _ := lookup(data, h.dataPath) // plan checked it is an object
		b, err := jsonv.Append(nil, d)   // keys sorted
		if err != nil {
			return engine.Proposed{}, h.Data + " cannot be encoded: " + err.Error()
		}
		ev.Data = b
	}
	return ev, ""
}

// kindOf names the JSON kind of a decoded value, for messages.
func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

// quoteShort quotes s for a message, cut to 80 bytes.
func quoteShort(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return strconv.Quote(s)
}
