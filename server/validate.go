package server

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Limits of the API (API.md "Conventions").
const (
	maxStreamIDLen  = 200
	maxEventTypeLen = 128
	maxEventIDLen   = 128
	maxLimit        = 10000
	defaultLimit    = 1000
	maxBatchEvents  = 10000
)

// streamIDChar reports whether c may follow the first character of a
// stream id: [A-Za-z0-9_.:@+=-].
func streamIDChar(c byte) bool {
	return alnum(c) || c == '_' || c == '.' || c == ':' || c == '@' || c == '+' || c == '=' || c == '-'
}

func alnum(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

func alpha(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }

// validStreamID checks ^[A-Za-z0-9][A-Za-z0-9_.:@+=-]*$, 1–200 bytes.
func validStreamID(s string) bool {
	if len(s) == 0 || len(s) > maxStreamIDLen || !alnum(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		if !streamIDChar(s[i]) {
			return false
		}
	}
	return true
}

// isSystemStream reports whether s names a system stream ("$…").
func isSystemStream(s string) bool { return len(s) > 0 && s[0] == '$' }

// validReadStreamID accepts client ids and system ids ("$" + a client id).
func validReadStreamID(s string) bool {
	if isSystemStream(s) {
		return len(s) <= maxStreamIDLen && validStreamID(s[1:])
	}
	return validStreamID(s)
}

// checkWriteStreamID validates a stream id an append names.
func checkWriteStreamID(s string) *apiError {
	if isSystemStream(s) {
		return errf(http.StatusBadRequest, codeInvalidStreamID, "stream "+strconv.Quote(s)+" is a system stream: not writable")
	}
	if !validStreamID(s) {
		return errf(http.StatusBadRequest, codeInvalidStreamID, "invalid stream id "+quoteShort(s)+": want 1–200 bytes of [A-Za-z0-9_.:@+=-], starting with a letter or digit")
	}
	return nil
}

func checkReadStreamID(s string) *apiError {
	if !validReadStreamID(s) {
		return errf(http.StatusBadRequest, codeInvalidStreamID, "invalid stream id "+quoteShort(s)+": want 1–200 bytes of [A-Za-z0-9_.:@+=-], starting with a letter or digit (or '$' for system streams)")
	}
	return nil
}

// validEventType checks ^[A-Za-z][A-Za-z0-9_.:-]*$, 1–128 bytes.
func validEventType(s string) bool {
	if len(s) == 0 || len(s) > maxEventTypeLen || !alpha(s[0]) {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !alnum(c) && c != '_' && c != '.' && c != ':' && c != '-' {
			return false
		}
	}
	return true
}

func checkEventType(s string) *apiError {
	if !validEventType(s) {
		return errf(http.StatusBadRequest, codeInvalidEventType, "invalid eventType "+quoteShort(s)+": want 1–128 bytes of [A-Za-z0-9_.:-], starting with a letter")
	}
	return nil
}

// validPrefix accepts a stream id prefix: what may start a stream id (empty
// included).
func validPrefix(s string) bool {
	if len(s) > maxStreamIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i == 0 && c == '$' {
			continue
		}
		if !streamIDChar(c) {
			return false
		}
	}
	return true
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
	s, ok, e := q.get(name)
	if e != nil || !ok {
		return def, e
	}
	switch s {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, badRequest("query parameter " + name + "=" + quoteShort(s) + ": want true or false")
}

// backward returns the direction parameter: forward (default) or backward.
func (q query) backward() (bool, *apiError) {
	s, ok, e := q.get("direction")
	if e != nil || !ok {
		return false, e
	}
	switch s {
	case "forward":
		return false, nil
	case "backward":
		return true, nil
	}
	return false, badRequest("query parameter direction=" + quoteShort(s) + ": want forward or backward")
}

// eventTypes returns the eventTypes filter: comma-separated, repeatable.
func (q query) eventTypes() ([]string, *apiError) {
	var out []string
	for _, v := range q.v["eventTypes"] {
		for _, t := range strings.Split(v, ",") {
			if t == "" {
				continue
			}
			if !validEventType(t) {
				return nil, errf(http.StatusBadRequest, codeInvalidEventType, "query parameter eventTypes: invalid event type "+quoteShort(t))
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
	if !validPrefix(s) {
		return "", badRequest("query parameter " + name + "=" + quoteShort(s) + ": not a stream id prefix")
	}
	return s, nil
}
