package bench

import "strconv"

// Bodies of the CQRS modes, appended into reused buffers like the others.

// typedSchema is the JSON Schema --schema registers for the run's event
// type: 10 typed fields, all required, nothing else allowed. Its checks
// are the usual ones of an API's schema (types, lengths, two patterns, an
// enum, a nested object, an array); "pad" takes whatever --size asks for.
const typedSchema = `{"type":"object","properties":{` +
	`"name":{"type":"string","minLength":1,"maxLength":100},` +
	`"email":{"type":"string","pattern":"^[^@ ]+@[^@ ]+$"},` +
	`"sku":{"type":"string","pattern":"^[A-Z]{2}-[0-9]{5}$"},` +
	`"count":{"type":"integer","minimum":0},` +
	`"price":{"type":"number","minimum":0},` +
	`"active":{"type":"boolean"},` +
	`"status":{"enum":["active","inactive","pending"]},` +
	`"tags":{"type":"array","items":{"type":"string"},"maxItems":10},` +
	`"address":{"type":"object","properties":{"city":{"type":"string"},"zip":{"type":"string"}},"required":["city","zip"],"additionalProperties":false},` +
	`"pad":{"type":"string"}},` +
	`"required":["name","email","sku","count","price","active","status","tags","address","pad"],` +
	`"additionalProperties":false}`

// typedDataHead is the eventData of typedSchema up to the pad's value.
const typedDataHead = `{"name":"Bench User","email":"bench@example.com","sku":"AB-12345","count":42,` +
	`"price":19.99,"active":true,"status":"active","tags":["red","green","blue"],` +
	`"address":{"city":"Paris","zip":"75001"},"pad":"`

// typedDataMin is the size of the smallest typed eventData (empty pad).
const typedDataMin = len(typedDataHead) + len(`"}`)

// appendTypedData appends the 10-field eventData that matches typedSchema,
// padded to size bytes (typedDataMin at least).
func appendTypedData(dst []byte, size int) []byte {
	dst = append(dst, typedDataHead...)
	for range max(size-typedDataMin, 0) {
		dst = append(dst, 'x')
	}
	return append(dst, `"}`...)
}

// appendPad appends n 'x' bytes.
func appendPad(dst []byte, n int) []byte {
	for range max(n, 0) {
		dst = append(dst, 'x')
	}
	return dst
}

// appendCreateUser appends a POST /api/commands body: a synchronous
// CreateUser of user <prefix><n>, whose commandData (the event's eventData)
// is padded through "name" to size bytes (1 pad byte at least: the name
// must not be empty).
//
//	{"commandType":"CreateUser","commandData":{"userId":"ID","email":"ID@example.com","name":"xx…"}}
func appendCreateUser(dst []byte, prefix string, n uint64, size int) []byte {
	dst = append(dst, `{"commandType":"CreateUser","commandData":`...)
	start := len(dst)
	dst = append(dst, `{"userId":"`...)
	dst = append(dst, prefix...)
	dst = strconv.AppendUint(dst, n, 10)
	dst = append(dst, `","email":"`...)
	dst = append(dst, prefix...)
	dst = strconv.AppendUint(dst, n, 10)
	dst = append(dst, `@example.com","name":"`...)
	dst = appendPad(dst, max(1, size-(len(dst)-start)-len(`"}`)))
	return append(dst, `"}}`...)
}

// appendUserID appends the user id (stream) of appendCreateUser(…, prefix, n, …).
func appendUserID(dst []byte, prefix string, n uint64) []byte {
	return strconv.AppendUint(append(dst, prefix...), n, 10)
}

// whereGroups is how many values the "grp" field of keyed items takes:
// a where=grp:gN query matches one item in whereGroups.
const whereGroups = 10

// appendKeyedData appends the eventData of item i of a query read model,
// padded to size bytes (keyBy is eventData.k):
//
//	{"k":"k<i>","grp":"g<i mod 10>","n":<i>,"pad":"xx…"}
func appendKeyedData(dst []byte, i uint64, size int) []byte {
	start := len(dst)
	dst = appendKey(append(dst, `{"k":"`...), i)
	dst = append(dst, `","grp":"g`...)
	dst = strconv.AppendUint(dst, i%whereGroups, 10)
	dst = append(dst, `","n":`...)
	dst = strconv.AppendUint(dst, i, 10)
	dst = append(dst, `,"pad":"`...)
	dst = appendPad(dst, size-(len(dst)-start)-len(`"}`))
	return append(dst, `"}`...)
}

// appendKey appends the key of item i: k<i>.
func appendKey(dst []byte, i uint64) []byte {
	return strconv.AppendUint(append(dst, 'k'), i, 10)
}

// appendKeyedBatch appends a POST /api/streams/{id}/events body of the n
// items first, first+1, … of type typ.
func appendKeyedBatch(dst []byte, typ string, expected, first uint64, n, size int) []byte {
	dst = append(dst, `{"expectedVersion":`...)
	dst = strconv.AppendUint(dst, expected, 10)
	dst = append(dst, `,"events":[`...)
	for k := range n {
		if k > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"eventType":"`...)
		dst = append(dst, typ...)
		dst = append(dst, `","eventData":`...)
		dst = appendKeyedData(dst, first+uint64(k), size)
		dst = append(dst, '}')
	}
	return append(dst, "]}"...)
}

// expectedWhereItems is how many of the items 0…n-1 have grp g<g>.
func expectedWhereItems(n, g int) int {
	if g >= n {
		return 0
	}
	return (n - g + whereGroups - 1) / whereGroups
}
