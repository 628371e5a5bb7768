package jsonv

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
)

// oracle is what encoding/json makes of b (numbers as json.Number), and
// whether it accepts b as one JSON object.
func oracle(b []byte) (map[string]any, bool) {
	if !json.Valid(b) {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return nil, false
	}
	m, ok := v.(map[string]any)
	return m, ok
}

var decodeSeeds = []string{
	`{}`, ` {"a":1} `, `{"a":{"b":[1,2.5,-0.1e+3,true,false,null,"x"]}}`, `{"a":"\u00e9\ud83d\ude00\n\"\\\/\b\f\r\t"}`,
	`{"a":"\ud800"}`, `{"a":"\ud800\u0041"}`, `{"a":"\udc00\ud800"}`, `{"a":"` + "\xff\xfe" + `"}`, `{"a":1,"a":2}`,
	`{"a":01}`, `{"a":1.}`, `{"a":-}`, `{"a":1e}`, `{"a":"\x01"}`, `{"a":tru}`, `[1]`, `"s"`, `{"a":1}x`, `{"a":[1,]}`, `{"a" 1}`,
	`{"a":"\u12"}`, `{"a":"\ud800\u12"}`, `{`, ``, `{"":{"":{"":[]}}}`, `{"é":"ü"}`, `{"a":1E+2,"b":0,"c":-0}`,
}

func TestDecodeObjectMatchesEncodingJSON(t *testing.T) {
	for _, s := range decodeSeeds {
		checkDecode(t, []byte(s))
	}
}

func FuzzDecodeObject(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkDecode(t, b) })
}

func checkDecode(t *testing.T, b []byte) {
	t.Helper()
	want, ok := oracle(b)
	got, err := DecodeObject(b)
	if ok != (err == nil) {
		t.Fatalf("%q: encoding/json ok=%v, DecodeObject err=%v", b, ok, err)
	}
	if ok && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q:\n got %#v\nwant %#v", b, got, want)
	}
}

func BenchmarkDecodeObject(b *testing.B) {
	data := []byte(`{"userId":"user-12345","email":"user-12345@example.com","name":"Ann Example","age":31,"tags":["a","b"],"address":{"city":"Oslo","zip":"0150"},"active":true}`)
	b.Run("impl=eventd", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := DecodeObject(data); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("impl=encoding-json", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, ok := oracle(data); !ok {
				b.Fatal("invalid")
			}
		}
	})
}
