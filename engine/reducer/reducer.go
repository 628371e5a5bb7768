// Package reducer folds a stream's events into state: the Reducer
// interface, the default reducer, the registry that says which reducer a
// stream uses, and Replay, the one fold the server, snapshots and commands
// all call.
//
// State is a JSON object decoded with numbers kept exact (json.Number), so
// a replay writes numbers back as they were spelled. Reducers are
// deterministic: every time they set comes from an event's timestamp, so
// replaying the same events always gives the same state.
package reducer

import (
	"errors"
	"time"

	"github.com/eventd/eventd/engine"
)

// State is a reducer's state: a JSON object (maps, []any, string,
// json.Number, bool, nil). A reducer may change the map it is given.
type State = map[string]any

// Reducer folds one event into a state.
type Reducer interface {
	// Name is the reducer's name ("default" for the default reducer).
	Name() string
	// Revision changes whenever the definition changes, so state built
	// under another revision (a snapshot) is never mistaken for this one's.
	Revision() string
	// Apply folds e into state (nil: the empty state) and returns the new
	// state. It must not keep e or anything e points to. An error (an
	// event the reducer cannot apply) wraps ErrApply.
	Apply(state State, e *engine.Event) (State, error)
}

// ErrApply is wrapped by the errors of Reducer.Apply: the event could not
// be folded (its data is not an object, an op met a value of the wrong
// type).
var ErrApply = errors.New("reducer: cannot apply event")

// TimeLayout is how reducers write times into state: the API's timestamp
// format (RFC 3339, milliseconds, UTC).
const TimeLayout = "2006-01-02T15:04:05.000Z"

// FormatTime formats t with TimeLayout.
func FormatTime(t time.Time) string {
	var a [32]byte
	return string(AppendTime(a[:0], t))
}

// AppendTime appends t formatted with TimeLayout, without quotes: by hand
// for years 0–9999 (time.Format was a tenth of a replay's time), with
// time.AppendFormat otherwise.
func AppendTime(b []byte, t time.Time) []byte {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.AppendFormat(b, TimeLayout)
	}
	hour, min, sec := t.Clock()
	ms := t.Nanosecond() / 1e6
	return append(b,
		byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+int(month)/10), byte('0'+int(month)%10), '-',
		byte('0'+day/10), byte('0'+day%10), 'T',
		byte('0'+hour/10), byte('0'+hour%10), ':',
		byte('0'+min/10), byte('0'+min%10), ':',
		byte('0'+sec/10), byte('0'+sec%10), '.',
		byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10), 'Z')
}

// Category is the part of a stream id before its first '-' or '_'
// (user_123 → user, order-9 → order); the whole id when it has neither.
func Category(streamID string) string {
	for i := 0; i < len(streamID); i++ {
		if streamID[i] == '-' || streamID[i] == '_' {
			return streamID[:i]
		}
	}
	return streamID
}
