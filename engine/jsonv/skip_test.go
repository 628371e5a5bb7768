package jsonv

import "testing"

// Skip accepts exactly what the decoder accepts, and stops at the end of
// the value.
func FuzzSkip(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, derr := Decode(b)
		end, serr := Skip(b, 0)
		if serr == nil {
			serr = nil
			if SkipWS(b, end) != len(b) {
				serr = errTrailing
			}
		}
		if (derr == nil) != (serr == nil) {
			t.Fatalf("%q: Decode %v, Skip %v", b, derr, serr)
		}
	})
}

var errTrailing = &trailing{}

type trailing struct{}

func (*trailing) Error() string { return "data after the value" }

func TestUnquote(t *testing.T) {
	for in, want := range map[string]string{`"abc"`: "abc", `"a\nb"`: "a\nb", `"\u00e9"`: "é"} {
		if got, err := Unquote([]byte(in)); err != nil || got != want {
			t.Errorf("%s: %q %v", in, got, err)
		}
	}
	for _, in := range []string{`abc`, `"abc`, `"a"b`, `""x`} {
		if _, err := Unquote([]byte(in)); err == nil {
			t.Errorf("%s: no error", in)
		}
	}
}
