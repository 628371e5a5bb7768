package reducer

import (
	"bytes"
	"encoding/json"
)

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
