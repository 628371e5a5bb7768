package reducer

import "github.com/eventd/eventd/engine/jsonv"

// DecodeObject decodes a JSON object with numbers kept exact (see
// engine/jsonv).
func DecodeObject(b []byte) (map[string]any, error) { return jsonv.DecodeObject(b) }

// EncodeState appends state to dst as JSON (keys sorted, no HTML
// escaping); a nil state is {}.
func EncodeState(dst []byte, state State) ([]byte, error) { return jsonv.AppendObject(dst, state) }

// MergePatch applies the RFC 7386 merge patch p to the object target.
func MergePatch(target, p map[string]any) { jsonv.MergePatch(target, p) }
