package projection

import (
	"encoding/json"
	"testing"
)

func TestRawField(t *testing.T) {
	obj := []byte(` { "a" : 1, "b":"x\"y", "c":{"d":[1,{"e":"}"}],"f":"g"}, "e\u0073c":true ,"n":null}`)
	cases := []struct {
		path []string
		want string
		ok   bool
	}{
		{[]string{"a"}, "1", true},
		{[]string{"b"}, `"x\"y"`, true},
		{[]string{"c", "f"}, `"g"`, true},
		{[]string{"c", "d"}, `[1,{"e":"}"}]`, true},
		{[]string{"esc"}, "true", true},
		{[]string{"n"}, "null", true},
		{[]string{"x"}, "", false},
		{[]string{"a", "b"}, "", false},
		{[]string{"c", "d", "e"}, "", false},
	}
	for _, c := range cases {
		got, ok := rawPath(obj, c.path)
		if ok != c.ok || string(got) != c.want {
			t.Errorf("rawPath %v: %q %v, want %q %v", c.path, got, ok, c.want, c.ok)
		}
	}
	for _, bad := range []string{``, `[]`, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{"a":1 "b":2}`, `{"a":"x`, `{"a":[1,2}`, `"s"`} {
		if v, ok := rawField([]byte(bad), "a"); ok && bad != `{"a":1,}` && bad != `{"a":1 "b":2}` {
			t.Errorf("rawField(%q) = %q: want not found", bad, v)
		}
	}
}

func TestScalarText(t *testing.T) {
	for raw, want := range map[string]string{`"abc"`: "abc", `"a\nb\u00e9"`: "a\nbé", `42`: "42", `-1.5e3`: "-1.5e3"} {
		if got, ok := scalarText([]byte(raw)); !ok || got != want {
			t.Errorf("scalarText(%s) = %q %v, want %q", raw, got, ok, want)
		}
	}
	for _, raw := range []string{`true`, `null`, `{}`, `[]`, `"unterminated`, `01`, `1.`, ``} {
		if got, ok := scalarText([]byte(raw)); ok {
			t.Errorf("scalarText(%s) = %q: want not a key", raw, got)
		}
	}
}

func TestMatchAll(t *testing.T) {
	v := []byte(`{"name":"Ann","age":30,"ratio":1.50,"vip":true,"gone":null,"q":"a\"b","o":{"name":"Bob"},"l":[1]}`)
	cases := []struct {
		conds []Cond
		want  bool
	}{
		{nil, true},
		{[]Cond{{"name", "Ann"}}, true},
		{[]Cond{{"name", "ann"}}, false},
		{[]Cond{{"age", "30"}}, true},
		{[]Cond{{"age", "30.0"}}, false}, // numbers as written
		{[]Cond{{"ratio", "1.50"}}, true},
		{[]Cond{{"vip", "true"}}, true},
		{[]Cond{{"gone", "null"}}, true},
		{[]Cond{{"q", `a"b`}}, true},
		{[]Cond{{"o", `{"name":"Bob"}`}}, false}, // objects never match
		{[]Cond{{"l", `[1]`}}, false},
		{[]Cond{{"missing", ""}}, false},
		{[]Cond{{"name", "Ann"}, {"age", "30"}, {"vip", "true"}}, true},
		{[]Cond{{"name", "Ann"}, {"age", "31"}}, false},
	}
	for _, c := range cases {
		if got := matchAll(v, c.conds); got != c.want {
			t.Errorf("matchAll %v = %v, want %v", c.conds, got, c.want)
		}
	}
	if matchAll([]byte(`{"name":"Ann"`), []Cond{{"age", "1"}}) {
		t.Error("a malformed object matched")
	}
}

// FuzzRawField: never a panic, and on valid JSON objects the same answer
// as encoding/json.
func FuzzRawField(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"a":{"b":[1,"]"]},"c":"\"}"}`, `{"\u0061":2}`, `{`, `{"a":"\\"}`, `[{"a":1}]`} {
		f.Add([]byte(s), "a")
	}
	f.Fuzz(func(t *testing.T, obj []byte, name string) {
		got, ok := rawField(obj, name)
		_ = matchAll(obj, []Cond{{name, "x"}, {"a", "1"}})
		var m map[string]json.RawMessage
		if json.Unmarshal(obj, &m) != nil || m == nil {
			return
		}
		want, has := m[name]
		if !has {
			if ok {
				// encoding/json keeps the last of duplicate keys; rawField
				// the first, which may be this one only if duplicated.
				t.Logf("found %q in %s, which encoding/json does not see", name, obj)
			}
			return
		}
		if !ok {
			t.Fatalf("rawField(%s, %q) not found; encoding/json finds %s", obj, name, want)
		}
		var a, b any
		if json.Unmarshal(got, &a) != nil || json.Unmarshal(want, &b) != nil {
			t.Fatalf("rawField(%s, %q) = %s, not a JSON value", obj, name, got)
		}
	})
}
