package projection

import (
	"bytes"
	"encoding/json"
)

// Reading fields out of raw JSON objects without decoding them: keyBy reads
// one field of each event's eventData, and `where` filters read top-level
// fields of every entry a list query examines. The input may be anything
// (eventData is stored as sent): malformed JSON makes a lookup fail, never
// panic or loop.

// rawField returns the raw value of the top-level field name of the JSON
// object obj.
func rawField(obj []byte, name string) ([]byte, bool) {
	var out []byte
	found := false
	eachRawField(obj, func(key []byte, escaped bool, val []byte) bool {
		if keyEquals(key, escaped, name) {
			out, found = val, true
			return false
		}
		return true
	})
	return out, found
}

// rawPath follows path through nested objects.
func rawPath(obj []byte, path []string) ([]byte, bool) {
	v := obj
	for _, name := range path {
		var ok bool
		if v, ok = rawField(v, name); !ok {
			return nil, false
		}
	}
	return v, true
}

// eachRawField calls fn with each member of the object obj (key without its
// quotes, whether it holds escapes, raw value) until fn returns false. It
// reports false if obj is not a well-formed object (as far as it read).
func eachRawField(obj []byte, fn func(key []byte, escaped bool, val []byte) bool) bool {
	i := skipSpace(obj, 0)
	if i >= len(obj) || obj[i] != '{' {
		return false
	}
	i = skipSpace(obj, i+1)
	if i < len(obj) && obj[i] == '}' {
		return true
	}
	for i < len(obj) {
		if obj[i] != '"' {
			return false
		}
		end, escaped := skipString(obj, i)
		if end < 0 {
			return false
		}
		key := obj[i+1 : end-1]
		i = skipSpace(obj, end)
		if i >= len(obj) || obj[i] != ':' {
			return false
		}
		i = skipSpace(obj, i+1)
		vend := skipValue(obj, i)
		if vend < 0 {
			return false
		}
		if !fn(key, escaped, obj[i:vend]) {
			return true
		}
		i = skipSpace(obj, vend)
		if i >= len(obj) {
			return false
		}
		switch obj[i] {
		case ',':
			i = skipSpace(obj, i+1)
		case '}':
			return true
		default:
			return false
		}
	}
	return false
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string starting at b[i] ('"'), or
// -1, and whether it holds escapes.
func skipString(b []byte, i int) (int, bool) {
	escaped := false
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			escaped = true
			j++
		case '"':
			return j + 1, escaped
		}
	}
	return -1, escaped
}

// skipValue returns the index after the value starting at b[i], or -1.
// Containers are skipped by matching brackets outside strings.
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return -1
	}
	switch c := b[i]; {
	case c == '"':
		end, _ := skipString(b, i)
		return end
	case c == '{' || c == '[':
		var small [32]byte
		closers := small[:0] // the brackets that must close, innermost last
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				end, _ := skipString(b, j)
				if end < 0 {
					return -1
				}
				j = end - 1
			case '{':
				closers = append(closers, '}')
			case '[':
				closers = append(closers, ']')
			case '}', ']':
				if closers[len(closers)-1] != b[j] {
					return -1
				}
				if closers = closers[:len(closers)-1]; len(closers) == 0 {
					return j + 1
				}
			}
		}
		return -1
	default: // number, true, false, null
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\n' && b[j] != '\t' && b[j] != '\r' {
			j++
		}
		if j == i {
			return -1
		}
		return j
	}
}

// keyEquals compares a raw key with name.
func keyEquals(key []byte, escaped bool, name string) bool {
	if !escaped {
		return string(key) == name
	}
	s, ok := unquote(key)
	return ok && s == name
}

// unquote decodes the inside of a JSON string.
func unquote(inner []byte) (string, bool) {
	q := make([]byte, 0, len(inner)+2)
	q = append(append(append(q, '"'), inner...), '"')
	var s string
	if err := json.Unmarshal(q, &s); err != nil {
		return "", false
	}
	return s, true
}

// scalarText returns the text of a string (unquoted) or number (as
// written) value; ok is false for anything else.
func scalarText(val []byte) (string, bool) {
	if len(val) == 0 {
		return "", false
	}
	if val[0] == '"' {
		if len(val) < 2 || val[len(val)-1] != '"' {
			return "", false
		}
		inner := val[1 : len(val)-1]
		if bytes.IndexByte(inner, '\\') < 0 {
			return string(inner), true
		}
		return unquote(inner)
	}
	if validNumber(string(val)) {
		return string(val), true
	}
	return "", false
}

// validNumber reports whether s is a JSON number literal.
func validNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && s[i] >= '1' && s[i] <= '9':
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i == len(s) || s[i] < '0' || s[i] > '9' {
			return false
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i == len(s) || s[i] < '0' || s[i] > '9' {
			return false
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	return i == len(s)
}
