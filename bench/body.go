package bench

import (
	"bytes"
	"strconv"
)

// Request bodies are built by appending bytes into a buffer the worker
// reuses: no reflection, no allocation per request. Stream ids are made by
// the generator from [A-Za-z0-9-] only, so they need no JSON escaping.
//
// eventData is {"pad":"xxx…"}; the pad is sized so that eventData is exactly
// size bytes (10 bytes at least: the braces, key and quotes).

// eventDataOverhead is len(`{"pad":""}`).
const eventDataOverhead = 10

const benchEventType = "BenchEvent"

// appendEventData appends an eventData object of size bytes (at least 10).
func appendEventData(dst []byte, size int) []byte {
	dst = append(dst, `{"pad":"`...)
	for range max(size-eventDataOverhead, 0) {
		dst = append(dst, 'x')
	}
	return append(dst, `"}`...)
}

// bodies holds the constant parts of a worker's request bodies.
type bodies struct {
	typ   string // the event type
	data  []byte // eventData, built once
	event []byte // one element of a batch's "events" array, built once
}

// newBodies makes the bodies of events of type typ ("": BenchEvent) whose
// eventData is size bytes: {"pad":…}, or with fields the 10 fields of
// typedSchema (appendTypedData).
func newBodies(size int, typ string, fields bool) *bodies {
	if typ == "" {
		typ = benchEventType
	}
	b := &bodies{typ: typ}
	if fields {
		b.data = appendTypedData(nil, size)
	} else {
		b.data = appendEventData(nil, size)
	}
	b.event = append(b.event, `{"eventType":"`...)
	b.event = append(b.event, typ...)
	b.event = append(b.event, `","eventData":`...)
	b.event = append(b.event, b.data...)
	b.event = append(b.event, '}')
	return b
}

// appendSingle appends a POST /api/events body for one event.
func (b *bodies) appendSingle(dst []byte, streamID string, expected uint64) []byte {
	dst = append(dst, `{"streamId":"`...)
	dst = append(dst, streamID...)
	dst = append(dst, `","eventType":"`...)
	dst = append(dst, b.typ...)
	dst = append(dst, `","eventData":`...)
	dst = append(dst, b.data...)
	dst = append(dst, `,"expectedVersion":`...)
	dst = strconv.AppendUint(dst, expected, 10)
	return append(dst, '}')
}

// appendBatch appends a POST /api/streams/{id}/events body for n events.
func (b *bodies) appendBatch(dst []byte, expected uint64, n int) []byte {
	dst = append(dst, `{"expectedVersion":`...)
	dst = strconv.AppendUint(dst, expected, 10)
	dst = append(dst, `,"events":[`...)
	for i := range n {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, b.event...)
	}
	return append(dst, "]}"...)
}

// The generator reads nothing of a response but its status code, except in
// three places, where a byte search suffices: the current version in a 409
// (to resynchronise a stream after a conflict), the number of events in a
// read page, and toVersion in a replay answer.

var (
	keyCurrentVersion = []byte(`"currentVersion"`)
	keyPosition       = []byte(`"position"`)
	keyToVersion      = []byte(`"toVersion"`)
)

// findUint returns the unsigned integer value of the first occurrence of
// the (quoted) key in body.
func findUint(body, key []byte) (uint64, bool) {
	i := bytes.Index(body, key)
	if i < 0 {
		return 0, false
	}
	rest := bytes.TrimLeft(body[i+len(key):], " \t\r\n")
	if len(rest) == 0 || rest[0] != ':' {
		return 0, false
	}
	rest = bytes.TrimLeft(rest[1:], " \t\r\n")
	var v uint64
	n := 0
	for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' && n < 19 {
		v = v*10 + uint64(rest[n]-'0')
		n++
	}
	return v, n > 0
}

// countEvents counts the events in a stream or $all page: every Event has
// exactly one "position" key, and the envelopes have none ("headPosition"
// and "nextFromPosition" do not match). Event data written by the generator
// cannot contain the key; other data could (the count is then too high).
func countEvents(body []byte) int { return bytes.Count(body, keyPosition) }
