package server

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/eventd/eventd/engine"
)

// Paging limits of the API (docs/api.md "Conventions"). The input rules
// of appends (stream ids, event types, event ids, sizes, batch lengths) are
// the engine's (engine/validate.go): the server calls them while parsing,
// to name the field at fault, and maps their errors with storeError.
const (
	maxLimit     = 10000
	defaultLimit = 1000
)

// checkWriteStreamID validates a stream id an append names: no system
// stream.
func checkWriteStreamID(s string) *apiError {
	if err := engine.ValidateClientStreamID(s); err != nil {
		return storeError(err)
	}
	return nil
}

// checkReadStreamID validates a stream id a read names: system streams
// ("$" and a client id) included.
func checkReadStreamID(s string) *apiError {
	if err := engine.ValidateStreamID(s); err != nil {
		return storeError(err)
	}
	return nil
}

func checkEventType(s string) *apiError {
	if err := engine.ValidateEventType(s); err != nil {
		return storeError(err)
	}
	return nil
}

// quoteShort quotes s for an error message, cut to 80 bytes.
func quoteShort(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return strconv.Quote(s)
}

// ---- query parameters ----

// query wraps parsed query parameters; a name given twice is an error
// (except where a list is allowed).
type query struct {
	v url.Values
}

func parseQuery(r *http.Request) (query, *apiError) {
	if r.URL.RawQuery == "" {
		return query{}, nil
	}
	v, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return query{}, badRequest("malformed query string: " + err.Error())
	}
	return query{v: v}, nil
}

// get returns one parameter's value and whether it was given.
func (q query) get(name string) (string, bool, *apiError) {
	vals, ok := q.v[name]
	if !ok {
		return "", false, nil
	}
	if len(vals) > 1 {
		return "", false, badRequest("query parameter " + name + " given more than once")
	}
	return vals[0], true, nil
}

// uint returns a non-negative integer parameter.
func (q query) uint(name string) (uint64, bool, *apiError) {
	s, ok, e := q.get(name)
	if e != nil || !ok {
		return 0, false, e
	}
	n, err := parseUint(s)
	if err != nil {
		return 0, false, badRequest("query parameter " + name + "=" + quoteShort(s) + ": want a non-negative integer")
	}
	return n, true, nil
}

func parseUint(s string) (uint64, error) {
	if s == "" || s[0] == '+' {
		return 0, strconv.ErrSyntax
	}
	return strconv.ParseUint(s, 10, 64)
}

// limit returns the page size: 1–10000, default 1000.
func (q query) limit() (int, *apiError) {
	s, ok, e := q.get("limit")
	if e != nil {
		return 0, e
	}
	if !ok {
		return defaultLimit, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > maxLimit || s[0] == '+' {
		return 0, badRequest("query parameter limit=" + quoteShort(s) + ": want an integer from 1 to 10000")
	}
	return n, nil
}

// boolean returns a true|false parameter.
func (q query) boolean(name string, def bool) (bool, *apiError) {
	return q.either(name, def, "false", "true")
}

// backward returns the direction parameter: forward (default) or backward.
func (q query) backward() (bool, *apiError) {
	return q.either("direction", false, "forward", "backward")
}

// messagesPlain reads ?messages=: typed (the default: an event: line with
// the event's type) or plain (no event: line).
func (q query) messagesPlain() (bool, *apiError) {
	return q.either("messages", false, "typed", "plain")
}

// either reads a parameter with two allowed values: false for no, true for
// yes, def when it is absent.
func (q query) either(name string, def bool, no, yes string) (bool, *apiError) {
	s, ok, e := q.get(name)
	if e != nil || !ok {
		return def, e
	}
	switch s {
	case no:
		return false, nil
	case yes:
		return true, nil
	}
	return false, badRequest("query parameter " + name + "=" + quoteShort(s) + ": want " + no + " or " + yes)
}

// eventTypes returns the eventTypes filter: comma-separated, repeatable.
func (q query) eventTypes() ([]string, *apiError) {
	var out []string
	for _, v := range q.v["eventTypes"] {
		for _, t := range strings.Split(v, ",") {
			if t == "" {
				continue
			}
			if err := engine.ValidateEventType(t); err != nil {
				return nil, errf(http.StatusBadRequest, codeInvalidEventType, "query parameter eventTypes: "+err.Error())
			}
			out = append(out, t)
		}
	}
	return out, nil
}

// prefix returns a stream-prefix parameter.
func (q query) prefix(name string) (string, *apiError) {
	s, _, e := q.get(name)
	if e != nil {
		return "", e
	}
	if !engine.ValidStreamPrefix(s) {
		return "", badRequest("query parameter " + name + "=" + quoteShort(s) + ": not a stream id prefix")
	}
	return s, nil
}
