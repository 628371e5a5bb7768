package server

// Parsing the bodies of POST /api/events and POST /api/streams/{id}/events
// in one pass over the bytes: fields, expectedVersion, events.

import (
	"bytes"
	"strconv"

	"github.com/eventd/eventd/engine"
)

// unknownField refuses a field name the body does not take; a name written
// with escapes is refused as such (it may spell a field it only looks
// unlike: "exp\u0065ctedVersion"), as decodeStrict does.
func unknownField(where string, key []byte) *apiError {
	if bytes.IndexByte(key, '\\') >= 0 {
		return badRequest("field name " + strconv.Quote(keyString(key)) + where + " is written with escapes: field names must be written without escapes")
	}
	return badRequest("unknown field " + strconv.Quote(keyString(key)) + where)
}

func duplicateField(key string) *apiError {
	return badRequest("field " + strconv.Quote(key) + " given more than once")
}

func wrongType(field, want string, val []byte) *apiError {
	return badRequest(field + " must be " + want + ", got " + jsonKind(val))
}

// expected is a parsed expectedVersion: the engine's value and the bytes the
// client sent (echoed in a conflict's details).
type expected struct {
	v   engine.ExpectedVersion
	raw []byte
}

// parseExpected reads expectedVersion (docs/api.md "Expected version").
func parseExpected(val []byte) (expected, *apiError) {
	if isNull(val) {
		return expected{v: engine.Any}, nil
	}
	if val[0] == '"' {
		s, _ := rawString(val)
		switch s {
		case "any":
			return expected{engine.Any, val}, nil
		case "no_stream":
			return expected{engine.NoStream, val}, nil
		case "exists":
			return expected{engine.StreamExists, val}, nil
		}
		return expected{}, badRequest("expectedVersion " + quoteShort(s) + ": want a version ≥ 0, -1, -2, -4, \"any\", \"no_stream\" or \"exists\"")
	}
	n, ok := rawInt(val)
	if !ok {
		return expected{}, badRequest("expectedVersion must be an integer or one of \"any\", \"no_stream\", \"exists\", got " + jsonKind(val) + " " + quoteShort(string(val)))
	}
	switch {
	case n == -2:
		return expected{engine.Any, val}, nil
	case n == -1 || n == 0:
		return expected{engine.NoStream, val}, nil
	case n == -4:
		return expected{engine.StreamExists, val}, nil
	case n >= 1:
		return expected{engine.ExpectedVersion(n), val}, nil
	}
	return expected{}, badRequest("expectedVersion " + string(val) + ": want a version ≥ 0, -1, -2, -4, \"any\", \"no_stream\" or \"exists\"")
}

// Field bits for duplicate detection.
const (
	fStreamID = 1 << iota
	fEventType
	fEventData
	fMetadata
	fEventID
	fExpected
	fSchemaVersion
	fEvents
)

// eventFields parses the fields of one event into p. single: the body of
// POST /api/events, which also has streamId and expectedVersion (returned).
// idx is the event's index in a batch (-1: single), named in messages.
func (s *Server) eventFields(obj []byte, p *engine.Proposed, single bool, idx int) (streamID string, exp expected, e *apiError) {
	exp.v = engine.Any
	var seen int
	var typeSet, dataSet bool
	err := eachField(obj, func(key, val []byte) error {
		var bit int
		switch string(key) {
		case "eventType":
			bit = fEventType
			str, ok := rawString(val)
			if !ok {
				return wrongType("eventType"+whereOf(idx), "a string", val)
			}
			if e := checkEventType(str); e != nil {
				e.msg = atEvent(idx) + e.msg
				return e
			}
			p.Type, typeSet = str, true
		case "eventData":
			bit = fEventData
			if val[0] != '{' {
				return wrongType("eventData"+whereOf(idx), "a JSON object", val)
			}
			p.Data, dataSet = val, true
		case "metadata":
			bit = fMetadata
			if isNull(val) {
				break
			}
			if val[0] != '{' {
				return wrongType("metadata"+whereOf(idx), "a JSON object", val)
			}
			p.Metadata = val
		case "eventId":
			bit = fEventID
			if isNull(val) {
				break
			}
			str, ok := rawString(val)
			if !ok {
				return wrongType("eventId"+whereOf(idx), "a string", val)
			}
			if err := engine.ValidateEventID(str); err != nil {
				return badRequest(atEvent(idx) + err.Error())
			}
			p.ID = str
		case "schemaVersion":
			bit = fSchemaVersion
			if isNull(val) {
				break
			}
			n, ok := rawInt(val)
			if !ok || n < 1 || n > 1<<31 {
				return badRequest("schemaVersion" + whereOf(idx) + " must be an integer ≥ 1, got " + quoteShort(string(val)))
			}
			p.SchemaVersion = uint32(n)
		case "streamId":
			if !single {
				return unknownField(whereOf(idx), key)
			}
			bit = fStreamID
			str, ok := rawString(val)
			if !ok {
				return wrongType("streamId", "a string", val)
			}
			if e := checkWriteStreamID(str); e != nil {
				return e
			}
			streamID = str
		case "expectedVersion":
			if !single {
				return unknownField(whereOf(idx), key)
			}
			bit = fExpected
			var e *apiError
			if exp, e = parseExpected(val); e != nil {
				return e
			}
		default:
			return unknownField(whereOf(idx), key)
		}
		if seen&bit != 0 {
			return duplicateField(string(key))
		}
		seen |= bit
		return nil
	})
	if err != nil {
		return "", exp, err.(*apiError)
	}
	if single && seen&fStreamID == 0 {
		return "", exp, badRequest("missing field \"streamId\"")
	}
	if !typeSet {
		return "", exp, badRequest("missing field \"eventType\"" + whereOf(idx))
	}
	if !dataSet {
		return "", exp, badRequest("missing field \"eventData\"" + whereOf(idx))
	}
	if err := engine.CheckEventSize(len(p.Data)+len(p.Metadata), s.cfg.MaxEventSize); err != nil {
		e := storeError(err)
		e.msg = atEvent(idx) + e.msg
		return "", exp, e
	}
	return streamID, exp, nil
}

// atEvent prefixes a message about batch event idx: "events[3]: " ("" for -1).
func atEvent(idx int) string {
	if idx < 0 {
		return ""
	}
	return "events[" + strconv.Itoa(idx) + "]: "
}

// whereOf names batch event idx in messages: " in events[3]" ("" for -1).
func whereOf(idx int) string {
	if idx < 0 {
		return ""
	}
	return " in events[" + strconv.Itoa(idx) + "]"
}

// parseBatch reads the body of POST /api/streams/{id}/events (already
// checked by checkBody): the expected version and the events, whose ids,
// types, data and metadata alias body.
func (s *Server) parseBatch(body []byte) (exp expected, props []engine.Proposed, e *apiError) {
	exp = expected{v: engine.Any}
	var events []byte
	var seen int
	err := eachField(body, func(key, val []byte) error {
		var bit int
		switch string(key) {
		case "expectedVersion":
			bit = fExpected
			var e *apiError
			if exp, e = parseExpected(val); e != nil {
				return e
			}
		case "events":
			bit = fEvents
			if val[0] != '[' {
				return wrongType("events", "an array", val)
			}
			events = val
		default:
			return unknownField("", key)
		}
		if seen&bit != 0 {
			return duplicateField(string(key))
		}
		seen |= bit
		return nil
	})
	if err != nil {
		return exp, nil, err.(*apiError)
	}
	if events == nil {
		return exp, nil, badRequest("missing field \"events\"")
	}
	props = make([]engine.Proposed, 0, 16)
	var ids map[string]struct{}
	err = eachElement(events, func(i int, val []byte) error {
		if i == engine.MaxAppendEvents {
			return badRequest("events must hold 1 to " + strconv.Itoa(engine.MaxAppendEvents) + " events, got more")
		}
		if val[0] != '{' {
			return wrongType("events["+strconv.Itoa(i)+"]", "a JSON object", val)
		}
		props = append(props, engine.Proposed{})
		if _, _, e := s.eventFields(val, &props[i], false, i); e != nil {
			return e
		}
		if id := props[i].ID; id != "" {
			if ids == nil {
				ids = make(map[string]struct{})
			}
			if _, dup := ids[id]; dup {
				return badRequest("eventId " + quoteShort(id) + " appears more than once in the batch")
			}
			ids[id] = struct{}{}
		}
		return nil
	})
	if err != nil {
		return exp, nil, err.(*apiError)
	}
	if len(props) == 0 {
		return exp, nil, badRequest("events must hold 1 to " + strconv.Itoa(engine.MaxAppendEvents) + " events, got 0")
	}
	return exp, props, nil
}
