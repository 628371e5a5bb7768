package projection

import "bytes"

// Cond is one `where` condition: the top-level field Field of an entry's
// value equals Value. A string field matches its text, a number matches
// as written (1.0 is not 1), true, false and null match those words.
// Objects and arrays never match.
type Cond struct {
	Field, Value string
}

// matchAll reports whether the JSON object val meets every condition.
func matchAll(val []byte, conds []Cond) bool {
	met := 0
	var seen uint64 // bit i: conds[i] met (at most 64 conditions)
	ok := eachRawField(val, func(key []byte, escaped bool, v []byte) bool {
		for i := range conds {
			if seen&(1<<i) == 0 && keyEquals(key, escaped, conds[i].Field) {
				if !valueEquals(v, conds[i].Value) {
					return false
				}
				seen |= 1 << i
				met++
			}
		}
		return met < len(conds)
	})
	return ok && met == len(conds)
}

func valueEquals(v []byte, want string) bool {
	if len(v) > 0 && v[0] == '"' {
		if len(v) < 2 {
			return false
		}
		inner := v[1 : len(v)-1]
		if bytes.IndexByte(inner, '\\') < 0 {
			return string(inner) == want
		}
		s, ok := unquote(inner)
		return ok && s == want
	}
	if len(v) > 0 && (v[0] == '{' || v[0] == '[') {
		return false
	}
	return string(v) == want
}
