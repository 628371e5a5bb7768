// Package jsonv is eventd's JSON value model: objects decoded into maps,
// slices, strings, json.Number, bool and nil (numbers kept exact), encoded
// back deterministically (keys sorted), and merged with RFC 7386. Reducer
// state, upcasting and read models are all such values; this package does
// the byte work for them several times faster than encoding/json's
// reflection, and fuzz tests hold it to encoding/json's results.
package jsonv
