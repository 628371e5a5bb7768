package reducer

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
)

// DecodeObject decodes a JSON object, keeping numbers exact (json.Number).
func DecodeObject(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		return nil, errors.New("not a JSON object")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON object")
	}
	return m, nil
}

// EncodeState appends state to dst as JSON (keys sorted, no HTML
// escaping, no trailing newline).
func EncodeState(dst []byte, state State) ([]byte, error) {
	if state == nil {
		return append(dst, "{}"...), nil
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(state); err != nil {
		return dst, err
	}
	return append(dst, bytes.TrimRight(buf.Bytes(), "\n")...), nil
}

// MergePatch applies the RFC 7386 merge patch p to the object target.
func MergePatch(target, p map[string]any) {
	for k, v := range p {
		if v == nil {
			delete(target, k)
			continue
		}
		if pv, ok := v.(map[string]any); ok {
			tv, ok := target[k].(map[string]any)
			if !ok {
				tv = map[string]any{}
			}
			MergePatch(tv, pv)
			target[k] = tv
			continue
		}
		target[k] = v
	}
}
