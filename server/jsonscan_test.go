package server

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func depthOf(b []byte) int {
	d, maxD, inStr := 0, 0, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case inStr && c == '\\':
			i++
		case c == '"':
			inStr = !inStr
		case !inStr && (c == '{' || c == '['):
			d++
			maxD = max(maxD, d)
		case !inStr && (c == '}' || c == ']'):
			d--
		}
	}
	return maxD
}

func TestCheckJSON(t *testing.T) {
	good := []string{`{}`, `[]`, ` {"a":[1,-2.5e+3,true,false,null,"x\u00e9\n"]} `, `"s"`, `0`, `-0.1E5`,
		`{"a":{"b":{}}}`, "\"\u00e9\"", `[` + strings.Repeat(`[`, 63) + strings.Repeat(`]`, 63) + `]`}
	bad := []string{``, ` `, `{`, `}`, `{"a"}`, `{"a":}`, `{a:1}`, `[1,]`, `01`, `1.`, `.5`, `-`, `1e`, `tru`, `nul`,
		`"\x"`, `"\u12"`, "\"\x00\"", "\"\xff\"", `[` + strings.Repeat(`[`, 64) + strings.Repeat(`]`, 64) + `]`, `{} {}`, `"abc`}
	for _, s := range good {
		if err := checkJSON([]byte(s)); err != nil {
			t.Errorf("checkJSON(%q): %v", s, err)
		}
	}
	for _, s := range bad {
		if err := checkJSON([]byte(s)); err == nil {
			t.Errorf("checkJSON(%q): want an error", s)
		}
	}
}

func TestEachField(t *testing.T) {
	obj := []byte(` { "a" : 1 , "b\"c":{"x":[1,{"y":"}"}]} ,"d":"e" } `)
	var got []string
	if err := eachField(obj, func(k, v []byte) error {
		got = append(got, string(k)+"="+string(v))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := []string{`a=1`, `b\"c={"x":[1,{"y":"}"}]}`, `d="e"`}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q", got)
	}
}

// FuzzCheckJSON: the hand-written validator agrees with encoding/json plus
// the UTF-8 and depth rules, and eachField never panics on what it accepts.
func FuzzCheckJSON(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `[1,2]`, `{"a":"\u00e9"}`, "\"\xff\"", `{"a":{"b":[]}}`, `1e5`, `{"a\\":"b\\\"c","d":["\\\\",{"e":"\""}]}`, `["\ud83d\ude00"]`, `["\ud800"]`, `["\udc00\ud800"]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		err := checkJSON(b)
		want := json.Valid(b) && utf8.Valid(b) && depthOf(b) <= maxDepth && !loneSurrogate(b)
		if (err == nil) != want {
			t.Fatalf("checkJSON(%q) = %v, want valid=%v", b, err, want)
		}
		if err == nil && b[skipWS(b, 0)] == '{' {
			_ = eachField(b, func(k, v []byte) error {
				if !json.Valid(v) {
					t.Fatalf("eachField gave invalid value %q", v)
				}
				return nil
			})
		}
	})
}

func TestSkipString(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int
	}{
		{`"" x`, 2},
		{`"abc",`, 5},
		{`"a\"b"}`, 6},
		{`"a\\"b`, 5},
		{`"a\\\"b"]`, 8},
		{`"\\\\"`, 6},
		{`"é\u0022"x`, 10},
	} {
		if got := skipString([]byte(c.in), 0); got != c.want {
			t.Errorf("skipString(%s) = %d, want %d", c.in, got, c.want)
		}
	}
}

// loneSurrogate is the reference for the surrogate rule: in valid JSON b,
// is there a \u escape of a surrogate that is not a high-low pair?
func loneSurrogate(b []byte) bool {
	in := false
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c == '"':
			in = !in
		case in && c == '\\':
			if b[i+1] != 'u' {
				i++
				continue
			}
			r, _ := hex4(b, i+2)
			i += 5
			switch {
			case r >= 0xDC00 && r <= 0xDFFF:
				return true
			case r >= 0xD800 && r <= 0xDBFF:
				if i+6 >= len(b) || b[i+1] != '\\' || b[i+2] != 'u' {
					return true
				}
				lo, _ := hex4(b, i+3)
				if lo < 0xDC00 || lo > 0xDFFF {
					return true
				}
				i += 6
			}
		}
	}
	return false
}
