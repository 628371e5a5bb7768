package jsonv

import (
	"bytes"
	"errors"
	"unicode/utf8"
)

// MergeObject applies the JSON object b, as an RFC 7386 merge patch, to
// target: the same as MergePatch(target, DecodeObject(b)), but without
// building the patch — members are merged as they are read, and a key
// already in target is looked up without a copy. It is the default
// reducer's whole cost on replay. On an error target is unchanged.
func MergeObject(target map[string]any, b []byte) error {
	_, err := mergeMember(target, b, "")
	return err
}

// MergeMember is MergeObject of the object held by b's member name (the
// last of that name). It reports false, changing nothing, when b has no
// such member or it is not an object.
func MergeMember(target map[string]any, b []byte, name string) (bool, error) {
	return mergeMember(target, b, name)
}

var errDuplicateKeys = errors.New("jsonv: duplicate keys")

func mergeMember(target map[string]any, b []byte, name string) (bool, error) {
	// A check first, so that an error leaves target unchanged and
	// duplicate keys (where merging as read would differ from decoding,
	// which keeps the last) take the exact path.
	span, err := checkForMerge(b, name)
	if errors.Is(err, errDuplicateKeys) {
		return mergeSlow(target, b, name)
	}
	if err != nil {
		return false, err
	}
	if span == nil {
		return false, nil
	}
	d := decoder{b: span}
	d.ws()
	return true, d.mergeInto(target, 0)
}

// mergeSlow is the decode-then-merge path (duplicate keys).
func mergeSlow(target map[string]any, b []byte, name string) (bool, error) {
	m, err := DecodeObject(b)
	if err != nil {
		return false, err
	}
	if name != "" {
		sub, ok := m[name].(map[string]any)
		if !ok {
			return false, nil
		}
		m = sub
	}
	MergePatch(target, m)
	return true, nil
}

// checkForMerge checks that b is one valid JSON object without duplicate
// keys at any depth (keys written with escapes count as possible
// duplicates), and returns the object to merge: b itself, or the value of
// member name when it is an object (nil when it is absent or not one).
func checkForMerge(b []byte, name string) ([]byte, error) {
	d := decoder{b: b}
	d.ws()
	if d.i >= len(d.b) || d.b[d.i] != '{' {
		return nil, errors.New("not a JSON object")
	}
	var span []byte
	if err := d.checkObject(0, name, &span); err != nil {
		return nil, err
	}
	d.ws()
	if d.i != len(d.b) {
		return nil, d.fail("data after the JSON object")
	}
	if name == "" {
		return b, nil
	}
	return span, nil
}

// checkObject is skip for an object at d.i that also refuses duplicate
// keys; with name (top level only), *span gets the value of the last
// member of that name when it is an object, else nil.
func (d *decoder) checkObject(depth int, name string, span *[]byte) error {
	if depth > maxDecodeDepth {
		return d.fail("JSON nested too deep")
	}
	d.i++ // {
	var small [16][]byte
	keys := small[:0]
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == '}' {
		d.i++
		return nil
	}
	for {
		d.ws()
		if d.i >= len(d.b) || d.b[d.i] != '"' {
			return d.fail("want a string key")
		}
		ks := d.i
		if err := d.skipString(); err != nil {
			return err
		}
		key := d.b[ks+1 : d.i-1]
		if bytes.IndexByte(key, '\\') >= 0 {
			return errDuplicateKeys // escaped keys may spell another key: the exact path
		}
		for _, k := range keys {
			if bytes.Equal(k, key) {
				return errDuplicateKeys
			}
		}
		keys = append(keys, key)
		d.ws()
		if d.i >= len(d.b) || d.b[d.i] != ':' {
			return d.fail("want ':' after a key")
		}
		d.i++
		d.ws()
		vs := d.i
		var err error
		if d.i < len(d.b) && d.b[d.i] == '{' {
			err = d.checkObject(depth+1, "", nil)
		} else {
			err = d.skip(depth + 1)
		}
		if err != nil {
			return err
		}
		if name != "" && string(key) == name {
			*span = nil
			if d.b[vs] == '{' {
				*span = d.b[vs:d.i]
			}
		}
		d.ws()
		if d.i >= len(d.b) {
			return d.fail("unexpected end of JSON in an object")
		}
		switch d.b[d.i] {
		case ',':
			d.i++
		case '}':
			d.i++
			return nil
		default:
			return d.fail("want ',' or '}' in an object")
		}
	}
}

// mergeInto merges the object at d.i (already checked: valid, no
// duplicate or escaped keys) into target.
func (d *decoder) mergeInto(target map[string]any, depth int) error {
	d.i++ // {
	for {
		d.ws()
		if d.b[d.i] == '}' {
			d.i++
			return nil
		}
		if d.b[d.i] == ',' {
			d.i++
			d.ws()
		}
		ks := d.i + 1
		for d.b[d.i+1] != '"' {
			d.i++
		}
		key := d.b[ks : d.i+1]
		d.i += 2 // past the key's last byte and its closing quote
		d.ws()
		d.i++ // :
		d.ws()
		switch c := d.b[d.i]; {
		case c == 'n':
			d.i += 4
			delete(target, string(key))
		case c == '{':
			sub, ok := target[string(key)].(map[string]any)
			if !ok {
				sub = make(map[string]any)
				target[keyString(key)] = sub
			}
			if err := d.mergeInto(sub, depth+1); err != nil {
				return err
			}
		default:
			v, err := d.value(depth + 1)
			if err != nil {
				return err
			}
			target[keyString(key)] = v
		}
	}
}

// keyString makes a map key of a checked raw key (no escapes); invalid
// UTF-8 becomes U+FFFD as decoding makes it.
func keyString(raw []byte) string {
	if utf8.Valid(raw) {
		return string(raw)
	}
	d := decoder{b: append(append([]byte{'"'}, raw...), '"')}
	s, _ := d.str()
	return s
}
