package server

import (
	"bytes"
	"encoding/json"
	"strconv"
	"unicode/utf8"
)

// The request bodies of the append path are parsed by hand: one pass checks
// the whole document (syntax, UTF-8, nesting depth), then the top-level
// fields are cut out as raw byte spans. eventData and metadata stay the
// client's bytes, never decoded and re-encoded. encoding/json would replace
// invalid UTF-8 silently, accept nesting 10,000 deep, and match field names
// case-insensitively (so a typo such as "expectedversion" would be taken),
// which the API forbids.

// maxDepth is the deepest nesting of arrays and objects a body may have.
const maxDepth = 64

// syntaxError is an invalid JSON document: answered 400 invalid_json.
type syntaxError struct {
	off int
	msg string
}

func (e *syntaxError) Error() string {
	return e.msg + " at byte " + strconv.Itoa(e.off)
}

// validator checks one JSON document.
type validator struct {
	b []byte
	i int
}

// checkJSON reports whether b is exactly one valid JSON value (surrounding
// whitespace allowed), valid UTF-8, nested at most maxDepth deep.
func checkJSON(b []byte) error {
	v := validator{b: b}
	v.ws()
	if v.i >= len(b) {
		return &syntaxError{v.i, "empty body: want a JSON value"}
	}
	if err := v.value(0); err != nil {
		return err
	}
	v.ws()
	if v.i != len(b) {
		return &syntaxError{v.i, "data after the JSON value"}
	}
	return nil
}

func (v *validator) fail(msg string) error { return &syntaxError{v.i, msg} }

func (v *validator) ws() {
	for v.i < len(v.b) {
		switch v.b[v.i] {
		case ' ', '\t', '\n', '\r':
			v.i++
		default:
			return
		}
	}
}

func (v *validator) value(depth int) error {
	if v.i >= len(v.b) {
		return v.fail("unexpected end of JSON")
	}
	switch c := v.b[v.i]; {
	case c == '{':
		return v.object(depth + 1)
	case c == '[':
		return v.array(depth + 1)
	case c == '"':
		return v.str()
	case c == '-' || (c >= '0' && c <= '9'):
		return v.number()
	case c == 't':
		return v.lit("true")
	case c == 'f':
		return v.lit("false")
	case c == 'n':
		return v.lit("null")
	default:
		return v.fail("invalid character " + strconv.QuoteRune(rune(c)))
	}
}

func (v *validator) lit(s string) error {
	if len(v.b)-v.i < len(s) || string(v.b[v.i:v.i+len(s)]) != s {
		return v.fail("invalid literal")
	}
	v.i += len(s)
	return nil
}

func (v *validator) object(depth int) error {
	if depth > maxDepth {
		return v.fail("JSON nested deeper than 64 levels")
	}
	v.i++ // {
	v.ws()
	if v.i < len(v.b) && v.b[v.i] == '}' {
		v.i++
		return nil
	}
	for {
		v.ws()
		if v.i >= len(v.b) || v.b[v.i] != '"' {
			return v.fail("want a string key")
		}
		if err := v.str(); err != nil {
			return err
		}
		v.ws()
		if v.i >= len(v.b) || v.b[v.i] != ':' {
			return v.fail("want ':' after a key")
		}
		v.i++
		v.ws()
		if err := v.value(depth); err != nil {
			return err
		}
		v.ws()
		if v.i >= len(v.b) {
			return v.fail("unexpected end of JSON in an object")
		}
		switch v.b[v.i] {
		case ',':
			v.i++
		case '}':
			v.i++
			return nil
		default:
			return v.fail("want ',' or '}' in an object")
		}
	}
}

func (v *validator) array(depth int) error {
	if depth > maxDepth {
		return v.fail("JSON nested deeper than 64 levels")
	}
	v.i++ // [
	v.ws()
	if v.i < len(v.b) && v.b[v.i] == ']' {
		v.i++
		return nil
	}
	for {
		v.ws()
		if err := v.value(depth); err != nil {
			return err
		}
		v.ws()
		if v.i >= len(v.b) {
			return v.fail("unexpected end of JSON in an array")
		}
		switch v.b[v.i] {
		case ',':
			v.i++
		case ']':
			v.i++
			return nil
		default:
			return v.fail("want ',' or ']' in an array")
		}
	}
}

// hex4 reads the four hex digits of a \\u escape at b[i:].
func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// plainByte[c]: c may stand in a JSON string as itself with nothing to
// check (printable ASCII other than '"' and '\\').
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func (v *validator) str() error {
	v.i++ // opening quote
	for v.i < len(v.b) {
		// Fast path: runs of plain ASCII, the bulk of event data.
		i, b := v.i, v.b
		for i < len(b) && plainByte[b[i]] {
			i++
		}
		if v.i = i; i >= len(b) {
			break
		}
		c := b[i]
		switch {
		case c == '"':
			v.i++
			return nil
		case c == '\\':
			if v.i+1 >= len(v.b) {
				return v.fail("unexpected end of JSON in a string")
			}
			switch v.b[v.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				v.i += 2
			case 'u':
				r, ok := hex4(v.b, v.i+2)
				if !ok {
					return v.fail("invalid \\u escape in a string")
				}
				v.i += 6
				// A surrogate must come as a high-low pair: a lone one is
				// not a character (decoders would turn every one into
				// U+FFFD, making different ids equal).
				switch {
				case r >= 0xDC00 && r <= 0xDFFF:
					return v.fail("lone low surrogate \\u escape in a string")
				case r >= 0xD800 && r <= 0xDBFF:
					lo, ok := rune(0), false
					if v.i+1 < len(v.b) && v.b[v.i] == '\\' && v.b[v.i+1] == 'u' {
						lo, ok = hex4(v.b, v.i+2)
					}
					if !ok || lo < 0xDC00 || lo > 0xDFFF {
						return v.fail("lone high surrogate \\u escape in a string")
					}
					v.i += 6
				}
			default:
				return v.fail("invalid escape in a string")
			}
		case c < 0x20:
			return v.fail("control character in a string")
		case c < utf8.RuneSelf:
			v.i++
		default:
			r, n := utf8.DecodeRune(v.b[v.i:])
			if r == utf8.RuneError && n <= 1 {
				return v.fail("invalid UTF-8")
			}
			v.i += n
		}
	}
	return v.fail("unexpected end of JSON in a string")
}

func (v *validator) digits() int {
	n := 0
	for v.i < len(v.b) && v.b[v.i] >= '0' && v.b[v.i] <= '9' {
		v.i++
		n++
	}
	return n
}

func (v *validator) number() error {
	if v.b[v.i] == '-' {
		v.i++
	}
	if v.i >= len(v.b) {
		return v.fail("invalid number")
	}
	if v.b[v.i] == '0' {
		v.i++
	} else if v.digits() == 0 {
		return v.fail("invalid number")
	}
	if v.i < len(v.b) && v.b[v.i] == '.' {
		v.i++
		if v.digits() == 0 {
			return v.fail("invalid number")
		}
	}
	if v.i < len(v.b) && (v.b[v.i] == 'e' || v.b[v.i] == 'E') {
		v.i++
		if v.i < len(v.b) && (v.b[v.i] == '+' || v.b[v.i] == '-') {
			v.i++
		}
		if v.digits() == 0 {
			return v.fail("invalid number")
		}
	}
	return nil
}

// ---- walking a document already checked by checkJSON ----

// skipWS returns the index of the first non-whitespace byte at or after i.
func skipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// skipValue returns the index just past the valid JSON value starting at i.
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return i
	default: // number or literal
		for i < len(b) {
			switch b[i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return i
			}
			i++
		}
		return i
	}
}

// skipString returns the index just past the (valid) string starting at
// i. It jumps from quote to quote with bytes.IndexByte; a quote preceded by
// an odd run of backslashes is escaped.
func skipString(b []byte, i int) int {
	start := i + 1
	for i = start; ; {
		j := bytes.IndexByte(b[i:], '"')
		if j < 0 {
			return len(b)
		}
		q := i + j
		bs := 0
		for k := q - 1; k >= start && b[k] == '\\'; k-- {
			bs++
		}
		if bs%2 == 0 {
			return q + 1
		}
		i = q + 1
	}
}

// eachField calls fn for every member of the valid JSON object obj, with
// the raw key (between its quotes, escapes untouched) and the raw value.
func eachField(obj []byte, fn func(key, val []byte) error) error {
	i := skipWS(obj, 0) + 1 // past {
	for {
		i = skipWS(obj, i)
		if i >= len(obj) || obj[i] == '}' {
			return nil
		}
		if obj[i] == ',' {
			i = skipWS(obj, i+1)
		}
		ks := i
		i = skipString(obj, i)
		key := obj[ks+1 : i-1]
		i = skipWS(obj, i) + 1 // past :
		i = skipWS(obj, i)
		vs := i
		i = skipValue(obj, i)
		if err := fn(key, obj[vs:i]); err != nil {
			return err
		}
	}
}

// eachElement calls fn for every element of the valid JSON array arr.
func eachElement(arr []byte, fn func(idx int, val []byte) error) error {
	i := skipWS(arr, 0) + 1 // past [
	for n := 0; ; n++ {
		i = skipWS(arr, i)
		if i >= len(arr) || arr[i] == ']' {
			return nil
		}
		if arr[i] == ',' {
			i = skipWS(arr, i+1)
		}
		vs := i
		i = skipValue(arr, i)
		if err := fn(n, arr[vs:i]); err != nil {
			return err
		}
	}
}

// keyString turns a raw key into a string, resolving escapes if any.
func keyString(raw []byte) string {
	for _, c := range raw {
		if c == '\\' {
			var s string
			q := make([]byte, 0, len(raw)+2)
			q = append(append(append(q, '"'), raw...), '"')
			if json.Unmarshal(q, &s) == nil {
				return s
			}
			break
		}
	}
	return string(raw)
}

// jsonKind is the kind of a valid raw JSON value, for error messages.
func jsonKind(val []byte) string {
	if len(val) == 0 {
		return "nothing"
	}
	switch val[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

// isNull reports whether a raw value is the literal null.
func isNull(val []byte) bool { return len(val) == 4 && string(val) == "null" }

// rawString unquotes a raw JSON value that must be a string.
func rawString(val []byte) (string, bool) {
	if len(val) < 2 || val[0] != '"' {
		return "", false
	}
	inner := val[1 : len(val)-1]
	for _, c := range inner {
		if c == '\\' {
			var s string
			if json.Unmarshal(val, &s) != nil {
				return "", false
			}
			return s, true
		}
	}
	return string(inner), true
}

// rawInt parses a raw JSON value that must be an integer (no fraction or
// exponent) fitting in an int64.
func rawInt(val []byte) (int64, bool) {
	if len(val) == 0 || (val[0] != '-' && (val[0] < '0' || val[0] > '9')) {
		return 0, false
	}
	n, err := strconv.ParseInt(string(val), 10, 64)
	return n, err == nil
}

// rawBool parses a raw JSON boolean.
func rawBool(val []byte) (bool, bool) {
	switch string(val) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	return false, false
}
