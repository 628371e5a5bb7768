package jsonv

import (
	"encoding/json"
	"reflect"
	"testing"
)

// MergeObject and MergeMember give what decoding and MergePatch give, on
// any input, and leave the target unchanged on an error.
func FuzzMergeInto(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s), []byte(`{"a":{"x":1},"b":2,"updates":{"u":1}}`), false)
	}
	f.Add([]byte(`{"updates":{"a":null,"n":{"m":2}},"x":1}`), []byte(`{"a":1,"n":{"k":1,"m":0}}`), true)
	f.Add([]byte(`{"a":{"x":1},"a":{"y":2}}`), []byte(`{"a":{"z":0}}`), false)
	f.Add([]byte(`{"a":1,"a":{"y":2}}`), []byte(`{"a":{"z":0}}`), false)
	f.Add([]byte(`{"\u0061":{"y":2},"a":null}`), []byte(`{"a":{"z":0}}`), false)
	f.Add([]byte(`{"updates":1,"updates":{"q":1}}`), []byte(`{}`), true)
	f.Add([]byte(`{"k\xff":1}`), []byte(`{}`), false)
	f.Fuzz(func(t *testing.T, patch, start []byte, member bool) {
		base, err := DecodeObject(start)
		if err != nil {
			return
		}
		name := ""
		if member {
			name = "updates"
		}
		want := Copy(base).(map[string]any)
		wantOK := true
		p, perr := DecodeObject(patch)
		if perr == nil {
			if name != "" {
				sub, ok := p[name].(map[string]any)
				if ok {
					MergePatch(want, sub)
				}
				wantOK = ok
			} else {
				MergePatch(want, p)
			}
		}
		got := Copy(base).(map[string]any)
		ok, err := mergeMember(got, patch, name)
		if (err == nil) != (perr == nil) {
			t.Fatalf("%q: decode err %v, merge err %v", patch, perr, err)
		}
		if err != nil {
			if !reflect.DeepEqual(got, base) {
				t.Fatalf("%q: an error changed the target: %v", patch, got)
			}
			return
		}
		if ok != wantOK || !reflect.DeepEqual(got, want) {
			w, _ := json.Marshal(want)
			g, _ := json.Marshal(got)
			t.Fatalf("%q on %s (member %v):\n got %s %v\nwant %s %v", patch, start, member, g, ok, w, wantOK)
		}
	})
}
