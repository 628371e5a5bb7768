package jsonv

import (
	"bytes"
	"encoding/json"
	"testing"
)

func stdEncode(v any) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil
	}
	return bytes.TrimRight(buf.Bytes(), "\n")
}

// Decoding any object and encoding it again gives encoding/json's bytes.
func FuzzAppendMatchesEncodingJSON(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Add([]byte(`{"s":"<>&\u2028\u2029\u0000\u001f\b\f","z":{"b":1,"a":[{"y":2,"x":1}]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeObject(b)
		if err != nil {
			return
		}
		got, err := AppendObject(nil, m)
		if err != nil {
			t.Fatalf("%q: %v", b, err)
		}
		if want := stdEncode(m); !bytes.Equal(got, want) {
			t.Fatalf("%q:\n got %s\nwant %s", b, got, want)
		}
	})
}

func TestAppendKinds(t *testing.T) {
	for _, c := range []struct {
		v    any
		want string
	}{
		{map[string]any{"b": 1.5, "a": int64(2), "c": json.Number("3"), "d": []any{true, nil, "x"}}, `{"a":2,"b":1.5,"c":3,"d":[true,null,"x"]}`},
		{map[string]any(nil), `null`},
		{"\xff\u2028", `"\ufffd\u2028"`},
	} {
		got, err := Append(nil, c.v)
		if err != nil || string(got) != c.want {
			t.Errorf("%v: %s, %v; want %s", c.v, got, err, c.want)
		}
	}
	if _, err := Append(nil, json.Number("1x")); err == nil {
		t.Error("an invalid json.Number was encoded")
	}
	if _, err := Append(nil, struct{}{}); err == nil {
		t.Error("a struct was encoded")
	}
}

func BenchmarkAppendObject(b *testing.B) {
	m, _ := DecodeObject([]byte(`{"userId":"user-12345","email":"user-12345@example.com","name":"Ann Example","age":31,"tags":["a","b"],"address":{"city":"Oslo","zip":"0150"},"active":true}`))
	b.Run("impl=jsonv", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			buf, _ = AppendObject(buf[:0], m)
		}
	})
	b.Run("impl=encoding-json", func(b *testing.B) {
		for b.Loop() {
			_ = stdEncode(m)
		}
	})
}
