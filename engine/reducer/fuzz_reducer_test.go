package reducer

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/eventd/eventd/engine"
	"github.com/eventd/eventd/engine/jsonv"
)

// FuzzCompileApply: any definition either compiles or fails with
// ErrDefinition; a compiled reducer folds any events (of its types, with
// any data and metadata objects) without panicking, fails only with
// ErrApply, and is deterministic: the same events give the same state, the
// state is an encodable object that shares nothing with the events, and
// the revision depends on the definition only. Seeds: testdata/fuzz.
func FuzzCompileApply(f *testing.F) {
	f.Add([]byte(`{"name":"counter","category":"cnt","handlers":{"Inc":[{"op":"increment","path":"n"}]}}`), []byte(`{"a":1}`), []byte(`{}`), "Inc")
	f.Fuzz(func(t *testing.T, def, data, meta []byte, typ string) {
		var d Definition
		if err := json.Unmarshal(def, &d); err != nil {
			return // not a definition's shape: the server refuses it before Compile
		}
		red, err := Compile(d)
		if err != nil {
			if !errors.Is(err, ErrDefinition) {
				t.Fatalf("Compile: %v does not wrap ErrDefinition", err)
			}
			return
		}
		again, err := Compile(d)
		if err != nil || again.Revision() != red.Revision() {
			t.Fatalf("Compile is not deterministic: %v, revision %s then %s", err, red.Revision(), again.Revision())
		}
		// The events a store could hold: data an object, metadata an object
		// or nothing, a type the reducer handles (or not).
		if _, err := jsonv.DecodeObject(data); err != nil {
			data = []byte(`{"x":1,"y":{"z":[1,"a"]}}`)
		}
		if len(meta) > 0 {
			if _, err := jsonv.DecodeObject(meta); err != nil {
				meta = nil
			}
		}
		types := make([]string, 0, len(d.Handlers))
		for k := range d.Handlers {
			types = append(types, k)
		}
		slices.Sort(types)
		if _, ok := d.Handlers[typ]; !ok && engine.ValidateEventType(typ) != nil {
			typ = types[len(typ)%len(types)]
		}
		fold := func() (State, []byte, error) {
			var st State
			for v := uint64(1); v <= 3; v++ {
				e := &engine.Event{Position: 10 + v, StreamID: "cnt-1", Version: v, ID: "e" + string(rune('0'+v)), Type: typ,
					Timestamp: time.Unix(1700000000, int64(v)).UTC(), Data: bytes.Clone(data), Metadata: bytes.Clone(meta)}
				if v == 2 {
					e.Type = types[0]
				}
				next, err := red.Apply(st, e)
				if err != nil {
					if !errors.Is(err, ErrApply) {
						t.Fatalf("Apply: %v does not wrap ErrApply", err)
					}
					return nil, nil, err
				}
				if next == nil {
					t.Fatal("Apply returned a nil state without an error")
				}
				st = next
				// The state must not alias the event: scribbling over the
				// event's bytes leaves it as it was.
				before, err := EncodeState(nil, st)
				if err != nil {
					t.Fatalf("state after version %d cannot be encoded: %v", v, err)
				}
				for i := range e.Data {
					e.Data[i] = 'X'
				}
				for i := range e.Metadata {
					e.Metadata[i] = 'X'
				}
				e.StreamID, e.ID, e.Type = "scribbled", "scribbled", "Scribbled"
				if after, _ := EncodeState(nil, st); !bytes.Equal(before, after) {
					t.Fatalf("the state shares memory with the event: %s became %s", before, after)
				}
			}
			enc, err := EncodeState(nil, st)
			if err != nil {
				t.Fatalf("state cannot be encoded: %v", err)
			}
			if _, err := jsonv.DecodeObject(enc); err != nil {
				t.Fatalf("encoded state %s is not a JSON object: %v", enc, err)
			}
			return st, enc, nil
		}
		_, enc1, err1 := fold()
		_, enc2, err2 := fold()
		if (err1 == nil) != (err2 == nil) || !bytes.Equal(enc1, enc2) {
			t.Fatalf("folding the same events twice: %s (%v), then %s (%v)", enc1, err1, enc2, err2)
		}
	})
}
