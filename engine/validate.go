package engine

import (
	"strconv"
	"unicode/utf8"
)

// The input rules of every append (docs/api.md "Conventions"), defined
// once: the engine enforces them on every Append whatever the caller (the
// HTTP server, a command handler, a subsystem writing a system stream), and
// the server calls the same functions while parsing so that it can name the
// field at fault, then maps the errors to codes.
const (
	MaxStreamIDLen  = 200   // bytes
	MaxEventTypeLen = 128   // bytes
	MaxEventIDLen   = 128   // bytes
	MaxAppendEvents = 10000 // events in one append (a batch)
)

// Character classes of stream ids and event types.
const (
	cAlpha    = 1 << iota // A-Za-z
	cDigit                // 0-9
	cIDPunct              // _ . : @ + = -   (stream ids)
	cTypPunct             // _ . : -         (event types)
)

var charClass = func() (t [256]uint8) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] |= cAlpha
		t[c-'a'+'A'] |= cAlpha
	}
	for c := '0'; c <= '9'; c++ {
		t[c] |= cDigit
	}
	for _, c := range "_.:@+=-" {
		t[c] |= cIDPunct
	}
	for _, c := range "_.:-" {
		t[c] |= cTypPunct
	}
	return t
}()

// InputError is input the engine refuses; nothing was written. Its message
// says what is wrong and what is wanted. It matches (errors.Is) its Kind —
// ErrInvalidStreamID, ErrInvalidEventType, ErrEventTooLarge or
// ErrInvalidEvent — and, for the event-level kinds, ErrInvalidEvent too.
type InputError struct {
	Kind error
	Msg  string
}

func (e *InputError) Error() string { return e.Msg }

func (e *InputError) Unwrap() []error {
	if e.Kind == ErrInvalidEventType || e.Kind == ErrEventTooLarge {
		return []error{e.Kind, ErrInvalidEvent}
	}
	return []error{e.Kind}
}

func inputErr(kind error, msg string) error { return &InputError{Kind: kind, Msg: msg} }

// IsSystemStream reports whether id names a system stream ("$…"): written
// by the engine's subsystems, readable by clients, never writable by them.
func IsSystemStream(id string) bool { return len(id) > 0 && id[0] == '$' }

// validClientID checks ^[A-Za-z0-9][A-Za-z0-9_.:@+=-]*$ and the length.
func validClientID(id string) bool {
	if len(id) == 0 || len(id) > MaxStreamIDLen || charClass[id[0]]&(cAlpha|cDigit) == 0 {
		return false
	}
	for i := 1; i < len(id); i++ {
		if charClass[id[i]]&(cAlpha|cDigit|cIDPunct) == 0 {
			return false
		}
	}
	return true
}

var streamIDRule = "want 1 to " + strconv.Itoa(MaxStreamIDLen) + " bytes of [A-Za-z0-9_.:@+=-], starting with a letter or digit"

// ValidateStreamID checks a stream id: a client id, 1–MaxStreamIDLen bytes
// of [A-Za-z0-9_.:@+=-] starting with a letter or digit, or a system id,
// "$" followed by a client id (MaxStreamIDLen bytes in all). Every append is
// checked with it; reads use it to refuse names no stream can have.
func ValidateStreamID(id string) error {
	if IsSystemStream(id) {
		if len(id) <= MaxStreamIDLen && validClientID(id[1:]) {
			return nil
		}
		return inputErr(ErrInvalidStreamID, "invalid stream id "+quoteShort(id)+": "+streamIDRule+" (or '$' and such an id for a system stream)")
	}
	if validClientID(id) {
		return nil
	}
	return inputErr(ErrInvalidStreamID, "invalid stream id "+quoteShort(id)+": "+streamIDRule)
}

// ValidateClientStreamID is ValidateStreamID for a stream a client writes:
// system streams are refused.
func ValidateClientStreamID(id string) error {
	if IsSystemStream(id) {
		return inputErr(ErrInvalidStreamID, "stream "+quoteShort(id)+" is a system stream: not writable")
	}
	return ValidateStreamID(id)
}

// ValidStreamPrefix reports whether p can begin a stream id (empty
// included): stream-id characters, a leading '$' allowed.
func ValidStreamPrefix(p string) bool {
	if len(p) > MaxStreamIDLen {
		return false
	}
	for i := 0; i < len(p); i++ {
		if i == 0 && p[i] == '$' {
			continue
		}
		if charClass[p[i]]&(cAlpha|cDigit|cIDPunct) == 0 {
			return false
		}
	}
	return true
}

// ValidateEventType checks ^[A-Za-z][A-Za-z0-9_.:-]*$, 1–MaxEventTypeLen bytes.
func ValidateEventType(t string) error {
	ok := len(t) > 0 && len(t) <= MaxEventTypeLen && charClass[t[0]]&cAlpha != 0
	for i := 1; ok && i < len(t); i++ {
		ok = charClass[t[i]]&(cAlpha|cDigit|cTypPunct) != 0
	}
	if ok {
		return nil
	}
	return inputErr(ErrInvalidEventType, "invalid event type "+quoteShort(t)+": want 1 to "+strconv.Itoa(MaxEventTypeLen)+
		" bytes of [A-Za-z0-9_.:-], starting with a letter")
}

// ValidateEventID checks a client event id: 1–MaxEventIDLen bytes of UTF-8.
func ValidateEventID(id string) error {
	if len(id) == 0 || len(id) > MaxEventIDLen || !utf8.ValidString(id) {
		return inputErr(ErrInvalidEvent, "eventId must be 1 to "+strconv.Itoa(MaxEventIDLen)+" bytes of UTF-8, got "+strconv.Itoa(len(id))+" bytes")
	}
	return nil
}

// CheckEventSize checks one event's eventData+metadata bytes against limit
// (the store's MaxEventSize).
func CheckEventSize(n, limit int) error {
	if n > limit {
		return inputErr(ErrEventTooLarge, "event has "+strconv.Itoa(n)+" bytes of eventData and metadata, more than the limit of "+strconv.Itoa(limit))
	}
	return nil
}

// CheckAppendLen checks the number of events of one append.
func CheckAppendLen(n int) error {
	if n < 1 || n > MaxAppendEvents {
		return inputErr(ErrInvalidEvent, "an append holds 1 to "+strconv.Itoa(MaxAppendEvents)+" events, got "+strconv.Itoa(n))
	}
	return nil
}

// checkExpected refuses negative expected versions that name no condition.
func checkExpected(exp ExpectedVersion) error {
	if exp < 0 && exp != Any && exp != NoStream && exp != StreamExists {
		return inputErr(ErrInvalidEvent, "expected version "+strconv.FormatInt(int64(exp), 10)+
			": want a version ≥ 0, Any (-2), NoStream (-1) or StreamExists (-4)")
	}
	return nil
}

// validateEvent checks one proposed event of an append (its id only when
// the client gave one).
func (s *Store) validateEvent(e *Proposed) error {
	if err := ValidateEventType(e.Type); err != nil {
		return err
	}
	if e.ID != "" {
		if err := ValidateEventID(e.ID); err != nil {
			return err
		}
	}
	return CheckEventSize(len(e.Data)+len(e.Metadata), s.opts.MaxEventSize)
}

// quoteShort quotes s for an error message, cut to 80 bytes.
func quoteShort(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return strconv.Quote(s)
}
