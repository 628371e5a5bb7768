package jsonv

// MergePatch applies the RFC 7386 merge patch p to the object target:
// null removes a member, objects merge recursively (a non-object target
// member becomes an object first), anything else replaces.
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

// Copy returns a deep copy of v: maps and slices are copied, so no two
// places share them.
func Copy(v any) any {
	switch x := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = Copy(e)
		}
		return m
	case []any:
		a := make([]any, len(x))
		for i, e := range x {
			a[i] = Copy(e)
		}
		return a
	}
	return v
}
