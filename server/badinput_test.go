package server

import (
	"strings"
	"testing"
)

// TestBadInput: every malformed request is a 4xx in the error envelope with
// the right code, and leaves the store's totals unchanged.
func TestBadInput(t *testing.T) {
	e := newEnv(t, Config{MaxBody: 256 << 10, MaxEventSize: 64 << 10})
	e.add("exists-1", "Opened", M{})
	e.add("exists-1", "Opened", M{})

	deep := strings.Repeat("[", 65) + strings.Repeat("]", 65)
	deepObj := `{"streamId":"s-1","eventType":"A","eventData":{"x":` + strings.Repeat(`{"a":`, 64) + "1" + strings.Repeat("}", 64) + "}}"
	okDepth := `{"streamId":"s-1","eventType":"A","eventData":{"x":` + strings.Repeat(`[`, 62) + strings.Repeat("]", 62) + "}}"
	_ = okDepth
	badUTF8 := "{\"streamId\":\"s-1\",\"eventType\":\"A\",\"eventData\":{\"x\":\"\xff\xfe\"}}"
	badUTF8Key := "{\"streamId\":\"s-1\",\"eventType\":\"A\",\"eventData\":{\"\xc3\x28\":1}}"
	long := strings.Repeat("a", 201)
	cases := []struct {
		name, method, path string
		body               string
		status             int
		code               string
	}{
		{"EmptyBody", "POST", "/api/events", ``, 400, codeInvalidJSON},
		{"NotJSON", "POST", "/api/events", `hello`, 400, codeInvalidJSON},
		{"TruncatedJSON", "POST", "/api/events", `{"streamId":"s-1","eventType":"A","eventData":{`, 400, codeInvalidJSON},
		{"TrailingGarbage", "POST", "/api/events", `{"streamId":"s-1","eventType":"A","eventData":{}} x`, 400, codeInvalidJSON},
		{"TwoValues", "POST", "/api/events", `{"streamId":"s-1","eventType":"A","eventData":{}}{}`, 400, codeInvalidJSON},
		{"TrailingComma", "POST", "/api/events", `{"streamId":"s-1","eventType":"A","eventData":{},}`, 400, codeInvalidJSON},
		{"SingleQuotes", "POST", "/api/events", `{'streamId':'s-1'}`, 400, codeInvalidJSON},
		{"BadEscape", "POST", "/api/events", `{"streamId":"s\q","eventType":"A","eventData":{}}`, 400, codeInvalidJSON},
		{"ControlCharInString", "POST", "/api/events", "{\"streamId\":\"s\x01\",\"eventType\":\"A\",\"eventData\":{}}", 400, codeInvalidJSON},
		{"BadNumber", "POST", "/api/events", `{"streamId":"s-1","eventType":"A","eventData":{"n":01}}`, 400, codeInvalidJSON},
		{"NaN", "POST", "/api/events", `{"streamId":"s-1","eventType":"A","eventData":{"n":NaN}}`, 400, codeInvalidJSON},
		{"InvalidUTF8", "POST", "/api/events", badUTF8, 400, codeInvalidJSON},
		{"InvalidUTF8Key", "POST", "/api/events", badUTF8Key, 400, codeInvalidJSON},
		{"NestedTooDeepArray", "POST", "/api/events", `{"streamId":"s-1","eventType":"A","eventData":{"x":` + deep + `}}`, 400, codeInvalidJSON},
		{"NestedTooDeepObject", "POST", "/api/events", deepObj, 400, codeInvalidJSON},
		{"BodyIsArray", "POST", "/api/events", `[]`, 400, codeBadRequest},
		{"BodyIsString", "POST", "/api/events", `"x"`, 400, codeBadRequest},
		{"UnknownField", "POST", "/api/events", `{"streamId":"s-1","eventType":"A","eventData":{},"expectedversion":3}`, 400, codeBadRequest},
		{"DuplicateField", "POST", "/api/events", `{"streamId":"s-1","streamId":"s-2","eventType":"A","eventData":{}}`, 400, codeBadRequest},
		{"MissingStreamID", "POST", "/api/events", `{"eventType":"A","eventData":{}}`, 400, codeBadRequest},
		{"MissingEventType", "POST", "/api/events", `{"streamId":"s-1","eventData":{}}`, 400, codeBadRequest},
		{"MissingEventData", "POST", "/api/events", `{"streamId":"s-1","eventType":"A"}`, 400, codeBadRequest},
		{"EventDataString", "POST", "/api/events", `{"streamId":"s-1","eventType":"A","eventData":"x"}`, 400, codeBadRequest},
		{"EventDataArray", "POST", "/api/events", `{"streamId":"s-1","eventType":"A","eventData":[1]}`, 400, codeBadRequest},
		{"EventDataNull", "POST", "/api/events", `{"streamId":"s-1","eventType":"A","eventData":null}`, 400, codeBadRequest},
		{"MetadataArray", "POST", "/api/events", `{"streamId":"s-1","eventType":"A","eventData":{},"metadata":[]}`, 400, codeBadRequest},
		{"StreamIDNumber", "POST", "/api/events", `{"streamId":5,"eventType":"A","eventData":{}}`, 400, codeBadRequest},
		{"EventTypeNumber", "POST", "/api/events", `{"streamId":"s-1","eventType":5,"eventData":{}}`, 400, codeBadRequest},
		{"EmptyStreamID", "POST", "/api/events", `{"streamId":"","eventType":"A","eventData":{}}`, 400, codeInvalidStreamID},
		{"StreamIDTooLong", "POST", "/api/events", `{"streamId":"` + long + `","eventType":"A","eventData":{}}`, 400, codeInvalidStreamID},
		{"StreamIDBadChar", "POST", "/api/events", `{"streamId":"a b","eventType":"A","eventData":{}}`, 400, codeInvalidStreamID},
		{"StreamIDLeadingDash", "POST", "/api/events", `{"streamId":"-a","eventType":"A","eventData":{}}`, 400, codeInvalidStreamID},
		{"StreamIDSlash", "POST", "/api/events", `{"streamId":"a/b","eventType":"A","eventData":{}}`, 400, codeInvalidStreamID},
		{"SystemStream", "POST", "/api/events", `{"streamId":"$commands","eventType":"A","eventData":{}}`, 400, codeInvalidStreamID},
		{"EventTypeDigitFirst", "POST", "/api/events", `{"streamId":"s-1","eventType":"9A","eventData":{}}`, 400, codeInvalidEventType},
		{"EventTypeEmpty", "POST", "/api/events", `{"streamId":"s-1","eventType":"","eventData":{}}`, 400, codeInvalidEventType},
		{"EventTypeTooLong", "POST", "/api/events", `{"streamId":"s-1","eventType":"` + strings.Repeat("T", 129) + `","eventData":{}}`, 400, codeInvalidEventType},
		{"EventTypeSpace", "POST", "/api/events", `{"streamId":"s-1","eventType":"A B","eventData":{}}`, 400, codeInvalidEventType},
		{"EventIDEmpty", "POST", "/api/events", `{"streamId":"s-1","eventType":"A","eventData":{},"eventId":""}`, 400, codeBadRequest},
		{"EventIDTooLong", "POST", "/api/events", `{"streamId":"s-1","eventType":"A","eventData":{},"eventId":"` + strings.Repeat("i", 129) + `"}`, 400, codeBadRequest},
		{"EventIDNumber", "POST", "/api/events", `{"streamId":"s-1","eventType":"A","eventData":{},"eventId":7}`, 400, codeBadRequest},
		{"SchemaVersionZero", "POST", "/api/events", `{"streamId":"s-1","eventType":"A","eventData":{},"schemaVersion":0}`, 400, codeBadRequest},
		{"SchemaVersionString", "POST", "/api/events", `{"streamId":"s-1","eventType":"A","eventData":{},"schemaVersion":"2"}`, 400, codeBadRequest},
		{"SchemaVersionFraction", "POST", "/api/events", `{"streamId":"s-1","eventType":"A","eventData":{},"schemaVersion":1.5}`, 400, codeBadRequest},
		{"ExpectedVersionBadString", "POST", "/api/events", `{"streamId":"s-1","eventType":"A","eventData":{},"expectedVersion":"latest"}`, 400, codeBadRequest},
		{"ExpectedVersionMinus3", "POST", "/api/events", `{"streamId":"s-1","eventType":"A","eventData":{},"expectedVersion":-3}`, 400, codeBadRequest},
		{"ExpectedVersionFraction", "POST", "/api/events", `{"streamId":"s-1","eventType":"A","eventData":{},"expectedVersion":1.5}`, 400, codeBadRequest},
		{"ExpectedVersionBool", "POST", "/api/events", `{"streamId":"s-1","eventType":"A","eventData":{},"expectedVersion":true}`, 400, codeBadRequest},
		{"ExpectedVersionHuge", "POST", "/api/events", `{"streamId":"s-1","eventType":"A","eventData":{},"expectedVersion":99999999999999999999}`, 400, codeBadRequest},
		{"EventTooLarge", "POST", "/api/events", `{"streamId":"s-1","eventType":"A","eventData":{"b":"` + strings.Repeat("x", 65<<10) + `"}}`, 413, codeTooLarge},
		{"BodyTooLarge", "POST", "/api/events", `{"streamId":"s-1","eventType":"A","eventData":{"b":"` + strings.Repeat("x", 300<<10) + `"}}`, 413, codeTooLarge},

		{"BatchEmpty", "POST", "/api/streams/b-1/events", `{"events":[]}`, 400, codeBadRequest},
		{"BatchNoEvents", "POST", "/api/streams/b-1/events", `{}`, 400, codeBadRequest},
		{"BatchEventsObject", "POST", "/api/streams/b-1/events", `{"events":{}}`, 400, codeBadRequest},
		{"BatchEventNotObject", "POST", "/api/streams/b-1/events", `{"events":[1]}`, 400, codeBadRequest},
		{"BatchOneBadType", "POST", "/api/streams/b-1/events", `{"events":[{"eventType":"A","eventData":{}},{"eventType":"1","eventData":{}}]}`, 400, codeInvalidEventType},
		{"BatchStreamIDInEvent", "POST", "/api/streams/b-1/events", `{"events":[{"streamId":"x","eventType":"A","eventData":{}}]}`, 400, codeBadRequest},
		{"BatchUnknownTopField", "POST", "/api/streams/b-1/events", `{"events":[{"eventType":"A","eventData":{}}],"stream":"x"}`, 400, codeBadRequest},
		{"BatchSameIDTwice", "POST", "/api/streams/b-1/events", `{"events":[{"eventType":"A","eventData":{},"eventId":"x"},{"eventType":"A","eventData":{},"eventId":"x"}]}`, 400, codeBadRequest},
		{"BatchSystemStream", "POST", "/api/streams/$sys/events", `{"events":[{"eventType":"A","eventData":{}}]}`, 400, codeInvalidStreamID},
		{"BatchBadStreamID", "POST", "/api/streams/a%20b/events", `{"events":[{"eventType":"A","eventData":{}}]}`, 400, codeInvalidStreamID},
		{"BatchWrongExpected", "POST", "/api/streams/exists-1/events", `{"expectedVersion":5,"events":[{"eventType":"A","eventData":{}}]}`, 409, codeWrongExpected},

		{"ReadLimitZero", "GET", "/api/events/exists-1?limit=0", "", 400, codeBadRequest},
		{"ReadLimitNegative", "GET", "/api/events/exists-1?limit=-1", "", 400, codeBadRequest},
		{"ReadLimitTooBig", "GET", "/api/events/exists-1?limit=10001", "", 400, codeBadRequest},
		{"ReadLimitText", "GET", "/api/events/exists-1?limit=ten", "", 400, codeBadRequest},
		{"ReadLimitTwice", "GET", "/api/events/exists-1?limit=1&limit=2", "", 400, codeBadRequest},
		{"ReadFromNegative", "GET", "/api/events/exists-1?fromVersion=-1", "", 400, codeBadRequest},
		{"ReadFromText", "GET", "/api/events/exists-1/abc", "", 400, codeBadRequest},
		{"ReadFromPathAndQueryDiffer", "GET", "/api/events/exists-1/1?fromVersion=2", "", 400, codeBadRequest},
		{"ReadBadDirection", "GET", "/api/events/exists-1?direction=up", "", 400, codeBadRequest},
		{"ReadBadUpcast", "GET", "/api/events/exists-1?upcast=yes", "", 400, codeBadRequest},
		{"ReadBadStreamID", "GET", "/api/events/a%20b", "", 400, codeInvalidStreamID},
		{"ReadBadQueryEscape", "GET", "/api/events/exists-1?limit=%zz", "", 400, codeBadRequest},
		{"AllFromNegative", "GET", "/api/all?fromPosition=-5", "", 400, codeBadRequest},
		{"AllBadEventType", "GET", "/api/all?eventTypes=9x", "", 400, codeInvalidEventType},
		{"AllBadExcludeSystem", "GET", "/api/all?excludeSystem=1", "", 400, codeBadRequest},
		{"AllBadPrefix", "GET", "/api/all?streamPrefix=a%20b", "", 400, codeBadRequest},
		{"StreamsBadCursor", "GET", "/api/streams?cursor=!!!", "", 400, codeBadRequest},
		{"StreamsBadLimit", "GET", "/api/streams?limit=0", "", 400, codeBadRequest},
		{"SubscribeBadFrom", "GET", "/api/subscribe?fromPosition=x", "", 400, codeBadRequest},
		{"StreamSubscribeBadFrom", "GET", "/api/streams/exists-1/subscribe?fromVersion=-1", "", 400, codeBadRequest},

		{"ReplayUnknownReducer", "POST", "/api/events/exists-1/replay", `{"reducer":"nope"}`, 400, codeBadRequest},
		{"ReplayUnknownField", "POST", "/api/events/exists-1/replay", `{"toversion":1}`, 400, codeBadRequest},
		{"ReplayToVersionText", "POST", "/api/events/exists-1/replay", `{"toVersion":"1"}`, 400, codeBadRequest},
		{"ReplayFromNegative", "POST", "/api/events/exists-1/replay", `{"fromVersion":-1}`, 400, codeBadRequest},
		{"ReplayUseSnapshotString", "POST", "/api/events/exists-1/replay", `{"useSnapshot":"no"}`, 400, codeBadRequest},
		{"ReplayToVersionAboveCurrent", "POST", "/api/events/exists-1/replay", `{"toVersion":3}`, 400, codeBadRequest},
		{"ReplayBadJSON", "POST", "/api/events/exists-1/replay", `{`, 400, codeInvalidJSON},
		{"ReplayUnknownStream", "POST", "/api/events/nobody/replay", `{}`, 404, codeNotFound},
	}
	if len(cases) < 40 {
		t.Fatalf("only %d cases", len(cases))
	}
	before := e.store.Stats()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var body any
			if c.method == "POST" {
				body = c.body
			}
			r := e.do(c.method, c.path, body)
			r.fail(t, c.status, c.code)
		})
	}
	after := e.store.Stats()
	if after.Head != before.Head || after.Streams != before.Streams {
		t.Fatalf("bad input changed the store: head %d→%d, streams %d→%d", before.Head, after.Head, before.Streams, after.Streams)
	}
	// Depth 64 exactly is fine.
	ok := `{"streamId":"s-1","eventType":"A","eventData":{"x":` + strings.Repeat("[", 62) + strings.Repeat("]", 62) + "}}"
	e.post("/api/events", ok).ok(t, 201)
}
