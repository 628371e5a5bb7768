package command

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestAppendRecordMatchesEncodingJSON: the hand-written record encoder
// writes what encoding/json would, and reads back as it was.
func TestAppendRecordMatchesEncodingJSON(t *testing.T) {
	exp := int64(-1)
	recs := []record{
		{ID: "c-1", Type: "CreateUser", Fingerprint: "00ff", CreatedAt: "2024-01-15T10:30:00.000Z"},
		{ID: "c\"2\u2028\x01é", Type: "T", Fingerprint: "ab", CreatedAt: "x", Async: true,
			Data: json.RawMessage(`{"a":[1,2.50,{"b":null}]}`), Metadata: json.RawMessage(`{"m":"<&>"}`),
			Expected: &exp, ExpectedRaw: json.RawMessage(`"no_stream"`)},
		{ID: "c3", Result: &recordResult{StreamID: "u-1", FirstVersion: 3, Version: 4, EventTypes: []string{"A", "B"}}},
		{ID: "c4", Error: "stream \"u\" does not exist", HTTPStatus: 409, Code: "wrong_expected_version",
			Details: json.RawMessage(`{"expectedVersion":7,"currentVersion":2}`)},
	}
	for _, r := range recs {
		got := appendRecord(nil, &r)
		want, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var a, b any
		if err := json.Unmarshal(got, &a); err != nil {
			t.Fatalf("%s: %v", got, err)
		}
		_ = json.Unmarshal(want, &b)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("appendRecord\n got %s\nwant %s", got, want)
		}
		var back record
		if err := json.Unmarshal(got, &back); err != nil || !reflect.DeepEqual(back, r) {
			t.Fatalf("read back %+v, %v; want %+v", back, err, r)
		}
	}
}

func TestRecordID(t *testing.T) {
	for id, fast := range map[string]bool{"c-1": true, "é ü": true, `q"x`: false, "a\\b": false, "tab\t": false} {
		got, ok := recordID(appendRecord(nil, &record{ID: id, Type: "T"}))
		if ok != fast || (ok && got != id) {
			t.Errorf("recordID of %q: %q, %v", id, got, ok)
		}
	}
	for _, b := range []string{``, `{}`, `{"id":""}`, `{"commandType":"T","id":"x"}`, `{"id":"unterminated`} {
		if id, ok := recordID([]byte(b)); ok {
			t.Errorf("recordID(%s) = %q", b, id)
		}
	}
}

// TestEscapedIDsSurviveRestart: ids the fast path of Open cannot read are
// read in full.
func TestEscapedIDsSurviveRestart(t *testing.T) {
	e := newEnv(t)
	ids := []string{`q"x`, "back\\slash", "tab\tid", "plain"}
	for i, id := range ids {
		completed(t, e.submit(createUser("u"+string(rune('a'+i)), id)))
	}
	e.reopen(Options{})
	for _, id := range ids {
		if o, err := e.svc.Status(id); err != nil || o.Command.ID != id || o.Command.Status != Completed {
			t.Fatalf("status of %q after a restart: %+v, %v", id, o.Command, err)
		}
	}
}
