package server

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"sync"
)

// decodeStrict decodes a request body that must be a JSON object into v (a
// pointer to a struct) with the API's strictness, for the endpoints whose
// bodies are not on the hot append path:
//
//   - the body is checked first (checkBody: syntax, UTF-8, depth, object);
//   - field names match the struct's json tags exactly; an unknown field is
//     400 naming it, the same field twice is 400, and a field name written
//     with escapes is 400 (it would otherwise match a field it only looks
//     unlike);
//   - a value of the wrong JSON kind is 400 naming the field and the kind;
//   - null means absent.
//
// Nested structs, slices and maps are checked the same way (maps take any
// key, but not the same one twice). json.RawMessage and `any` fields take
// any value. Numbers decode as json.Number into `any`.
func decodeStrict(body []byte, v any) *apiError {
	if e := checkBody(body); e != nil {
		return e
	}
	return decodeStrictValue(body, v, "")
}

// decodeStrictValue is decodeStrict for a value already known to be valid
// JSON (a part of a checked body); path names it in messages.
func decodeStrictValue(val []byte, v any, path string) *apiError {
	if e := checkShape(val, reflect.TypeOf(v), path); e != nil {
		return e
	}
	dec := json.NewDecoder(bytes.NewReader(val))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return badRequest(strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

var (
	rawMessageType = reflect.TypeOf(json.RawMessage(nil))
	numberType     = reflect.TypeOf(json.Number(""))
)

// checkShape checks that the valid JSON value val fits type t (see
// decodeStrict); path names val in messages ("" for the body).
func checkShape(val []byte, t reflect.Type, path string) *apiError {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if isNull(val) || t == rawMessageType || t.Kind() == reflect.Interface {
		return nil
	}
	name := path
	if name == "" {
		name = "the body"
	}
	if t == numberType {
		if jsonKind(val) != "a number" {
			return wrongType(name, "a number", val)
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		if val[0] != '{' {
			return wrongType(name, "an object", val)
		}
		fields := structFields(t)
		seen := make(map[string]bool, len(fields))
		err := eachField(val, func(key, v []byte) error {
			if bytes.IndexByte(key, '\\') >= 0 {
				return badRequest("field name " + strconv.Quote(keyString(key)) + at(path) + " is written with escapes: write field names as plain text")
			}
			k := string(key)
			ft, ok := fields[k]
			if !ok {
				return unknownField(at(path), key)
			}
			if seen[k] {
				return duplicateField(join(path, k))
			}
			seen[k] = true
			if e := checkShape(v, ft, join(path, k)); e != nil {
				return e
			}
			return nil
		})
		if err != nil {
			return err.(*apiError)
		}
	case reflect.Map:
		if val[0] != '{' {
			return wrongType(name, "an object", val)
		}
		seen := map[string]bool{}
		err := eachField(val, func(key, v []byte) error {
			k := keyString(key)
			if seen[k] {
				return duplicateField(join(path, k))
			}
			seen[k] = true
			if e := checkShape(v, t.Elem(), join(path, k)); e != nil {
				return e
			}
			return nil
		})
		if err != nil {
			return err.(*apiError)
		}
	case reflect.Slice, reflect.Array:
		if val[0] != '[' {
			return wrongType(name, "an array", val)
		}
		err := eachElement(val, func(i int, v []byte) error {
			if e := checkShape(v, t.Elem(), path+"["+strconv.Itoa(i)+"]"); e != nil {
				return e
			}
			return nil
		})
		if err != nil {
			return err.(*apiError)
		}
	case reflect.String:
		if val[0] != '"' {
			return wrongType(name, "a string", val)
		}
	case reflect.Bool:
		if val[0] != 't' && val[0] != 'f' {
			return wrongType(name, "true or false", val)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if _, ok := rawInt(val); !ok {
			return wrongType(name, "an integer", val)
		}
	case reflect.Float32, reflect.Float64:
		if jsonKind(val) != "a number" {
			return wrongType(name, "a number", val)
		}
	}
	return nil
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

func at(path string) string {
	if path == "" {
		return ""
	}
	return " in " + path
}

var fieldCache sync.Map // reflect.Type → map[string]reflect.Type

// structFields maps the JSON names of t's exported fields to their types.
func structFields(t reflect.Type) map[string]reflect.Type {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name := f.Name
		if tag, ok := f.Tag.Lookup("json"); ok {
			n, _, _ := strings.Cut(tag, ",")
			if n == "-" {
				continue
			}
			if n != "" {
				name = n
			}
		}
		m[name] = f.Type
	}
	fieldCache.Store(t, m)
	return m
}
