package jsonv

// Skip checks the JSON value starting at b[i] (after optional whitespace)
// and returns the offset just past it, without building anything: the
// cheap way to step over values a caller leaves as they are.
func Skip(b []byte, i int) (int, error) {
	d := decoder{b: b, i: i}
	d.ws()
	if err := d.skip(0); err != nil {
		return 0, err
	}
	return d.i, nil
}

// SkipWS returns the offset of the first non-whitespace byte at or after i.
func SkipWS(b []byte, i int) int {
	d := decoder{b: b, i: i}
	d.ws()
	return d.i
}

func (d *decoder) skip(depth int) error {
	if depth > maxDecodeDepth {
		return d.fail("JSON nested too deep")
	}
	if d.i >= len(d.b) {
		return d.fail("unexpected end of JSON")
	}
	switch c := d.b[d.i]; {
	case c == '{', c == '[':
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		d.i++
		d.ws()
		if d.i < len(d.b) && d.b[d.i] == closer {
			d.i++
			return nil
		}
		for {
			d.ws()
			if c == '{' {
				if d.i >= len(d.b) || d.b[d.i] != '"' {
					return d.fail("want a string key")
				}
				if err := d.skipString(); err != nil {
					return err
				}
				d.ws()
				if d.i >= len(d.b) || d.b[d.i] != ':' {
					return d.fail("want ':' after a key")
				}
				d.i++
				d.ws()
			}
			if err := d.skip(depth + 1); err != nil {
				return err
			}
			d.ws()
			if d.i >= len(d.b) {
				return d.fail("unexpected end of JSON")
			}
			switch d.b[d.i] {
			case ',':
				d.i++
			case closer:
				d.i++
				return nil
			default:
				return d.fail("want ',' or a closing bracket")
			}
		}
	case c == '"':
		return d.skipString()
	case c == '-' || (c >= '0' && c <= '9'):
		_, err := d.number()
		return err
	case c == 't':
		return d.lit("true")
	case c == 'f':
		return d.lit("false")
	case c == 'n':
		return d.lit("null")
	}
	return d.fail("invalid character")
}

// skipString checks the string at d.i (escapes, control characters; UTF-8
// is not checked: decoding replaces what is invalid) and steps past it.
func (d *decoder) skipString() error {
	d.i++
	for d.i < len(d.b) {
		switch c := d.b[d.i]; {
		case c == '"':
			d.i++
			return nil
		case c < 0x20:
			return d.fail("control character in a string")
		case c == '\\':
			if d.i+1 >= len(d.b) {
				return d.fail("unexpected end of JSON in a string")
			}
			switch d.b[d.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				d.i += 2
			case 'u':
				d.i += 2
				if _, ok := d.hex4(); !ok {
					return d.fail("invalid \\u escape")
				}
			default:
				return d.fail("invalid escape")
			}
		default:
			d.i++
		}
	}
	return d.fail("unexpected end of JSON in a string")
}

// Unquote returns the content of the JSON string s (with its quotes):
// without a copy when it has no escapes and is valid ASCII or UTF-8, else
// decoded as DecodeObject decodes strings.
func Unquote(s []byte) (string, error) {
	d := decoder{b: s}
	if len(s) < 2 || s[0] != '"' {
		return "", d.fail("not a JSON string")
	}
	v, err := d.str()
	if err == nil && d.i != len(s) {
		err = d.fail("data after the string")
	}
	return v, err
}
