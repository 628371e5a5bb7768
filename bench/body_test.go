package bench

import (
	"encoding/json"
	"strconv"
	"testing"
)

func TestBodiesAreValidJSONOfTheRequestedSize(t *testing.T) {
	for _, size := range []int{0, 5, 10, 11, 200, 4096} {
		b := newBodies(size, "", false)
		wantData := max(size, eventDataOverhead)

		var single struct {
			StreamID        string          `json:"streamId"`
			EventType       string          `json:"eventType"`
			EventData       json.RawMessage `json:"eventData"`
			ExpectedVersion *uint64         `json:"expectedVersion"`
		}
		buf := b.appendSingle([]byte("junk"), "bench-abc-w1-s2", 42)[4:]
		if err := json.Unmarshal(buf, &single); err != nil {
			t.Fatalf("size %d: single body is not JSON: %v\n%s", size, err, buf)
		}
		if single.StreamID != "bench-abc-w1-s2" || single.EventType != "BenchEvent" || single.ExpectedVersion == nil || *single.ExpectedVersion != 42 {
			t.Fatalf("size %d: single body fields wrong: %s", size, buf)
		}
		if len(single.EventData) != wantData {
			t.Fatalf("size %d: eventData is %d bytes, want %d", size, len(single.EventData), wantData)
		}
		var obj map[string]string
		if err := json.Unmarshal(single.EventData, &obj); err != nil || len(obj["pad"]) != wantData-eventDataOverhead {
			t.Fatalf("size %d: eventData %s: %v", size, single.EventData, err)
		}

		for _, n := range []int{1, 3, 100} {
			var batch struct {
				ExpectedVersion *uint64 `json:"expectedVersion"`
				Events          []struct {
					EventType string          `json:"eventType"`
					EventData json.RawMessage `json:"eventData"`
				} `json:"events"`
			}
			buf := b.appendBatch(nil, 0, n)
			if err := json.Unmarshal(buf, &batch); err != nil {
				t.Fatalf("size %d n %d: batch body is not JSON: %v", size, n, err)
			}
			if batch.ExpectedVersion == nil || *batch.ExpectedVersion != 0 || len(batch.Events) != n {
				t.Fatalf("size %d n %d: batch fields wrong", size, n)
			}
			for _, e := range batch.Events {
				if e.EventType != "BenchEvent" || len(e.EventData) != wantData {
					t.Fatalf("size %d n %d: event %s %d bytes", size, n, e.EventType, len(e.EventData))
				}
			}
		}
	}
}

func TestFindUintAndCountEvents(t *testing.T) {
	body := []byte(`{"success":false,"error":"x","code":"wrong_expected_version","details":{"expectedVersion":3,"currentVersion": 17}}`)
	if v, ok := findUint(body, keyCurrentVersion); !ok || v != 17 {
		t.Fatalf("findUint = %d %v", v, ok)
	}
	if _, ok := findUint(body, keyToVersion); ok {
		t.Fatal("found absent key")
	}
	if v, ok := findUint([]byte("{\"toVersion\" :\n 250}"), keyToVersion); !ok || v != 250 {
		t.Fatalf("findUint with spaces = %d %v", v, ok)
	}
	if _, ok := findUint([]byte(`{"x":"toVersion","toVersion":null}`), keyToVersion); ok {
		t.Fatal("found a non-number")
	}
	page := []byte(`{"success":true,"data":{"events":[{"eventId":"a","position":1},{"eventId":"b", "position" : 2}],"headPosition":9,"nextFromPosition":2}}`)
	if n := countEvents(page); n != 2 {
		t.Fatalf("countEvents = %d", n)
	}
}

func BenchmarkAppendBatchBody(b *testing.B) {
	bb := newBodies(200, "", false)
	var buf []byte
	for b.Loop() {
		buf = bb.appendBatch(buf[:0], 12345, 100)
	}
	b.SetBytes(int64(len(buf)))
}

func TestTypedDataMatchesTheSchemaShape(t *testing.T) {
	var schema struct {
		Properties map[string]struct {
			Type string `json:"type"`
		} `json:"properties"`
		Required []string `json:"required"`
	}
	if err := json.Unmarshal([]byte(typedSchema), &schema); err != nil {
		t.Fatalf("typedSchema is not JSON: %v", err)
	}
	if len(schema.Properties) != 10 || len(schema.Required) != 10 {
		t.Fatalf("schema has %d properties, %d required", len(schema.Properties), len(schema.Required))
	}
	for _, size := range []int{0, typedDataMin, 200, 1000} {
		b := newBodies(size, "BenchTyped-x", true)
		if got, want := len(b.data), max(size, typedDataMin); got != want {
			t.Fatalf("size %d: eventData %d bytes, want %d", size, got, want)
		}
		var data map[string]any
		if err := json.Unmarshal(b.data, &data); err != nil || len(data) != 10 {
			t.Fatalf("size %d: eventData %s: %v", size, b.data, err)
		}
		for _, k := range schema.Required {
			if _, ok := data[k]; !ok {
				t.Fatalf("eventData lacks %q", k)
			}
		}
		var single struct {
			EventType string `json:"eventType"`
		}
		if err := json.Unmarshal(b.appendSingle(nil, "s", 0), &single); err != nil || single.EventType != "BenchTyped-x" {
			t.Fatalf("single body: %+v %v", single, err)
		}
	}
}

func TestCreateUserBody(t *testing.T) {
	for _, size := range []int{0, 50, 200, 1000} {
		buf := appendCreateUser([]byte("junk"), "bench-r1-w3-", 12345, size)[4:]
		var cmd struct {
			CommandType string          `json:"commandType"`
			CommandData json.RawMessage `json:"commandData"`
		}
		if err := json.Unmarshal(buf, &cmd); err != nil || cmd.CommandType != "CreateUser" {
			t.Fatalf("size %d: %s: %v", size, buf, err)
		}
		var data map[string]string
		if err := json.Unmarshal(cmd.CommandData, &data); err != nil || len(data) != 3 ||
			data["userId"] != "bench-r1-w3-12345" || data["email"] != "bench-r1-w3-12345@example.com" || data["name"] == "" {
			t.Fatalf("size %d: commandData %s: %v", size, cmd.CommandData, err)
		}
		if min := len(`{"userId":"bench-r1-w3-12345","email":"bench-r1-w3-12345@example.com","name":"x"}`); len(cmd.CommandData) != max(size, min) {
			t.Fatalf("size %d: commandData is %d bytes", size, len(cmd.CommandData))
		}
		if id := string(appendUserID(nil, "bench-r1-w3-", 12345)); id != data["userId"] {
			t.Fatalf("user id %q", id)
		}
	}
}

func TestKeyedBatchBody(t *testing.T) {
	buf := appendKeyedBatch(nil, "BenchEvent", 7, 95, 10, 100)
	var batch struct {
		ExpectedVersion uint64 `json:"expectedVersion"`
		Events          []struct {
			EventType string          `json:"eventType"`
			EventData json.RawMessage `json:"eventData"`
		} `json:"events"`
	}
	if err := json.Unmarshal(buf, &batch); err != nil || batch.ExpectedVersion != 7 || len(batch.Events) != 10 {
		t.Fatalf("%s: %v", buf, err)
	}
	groups := map[string]int{}
	for i, e := range batch.Events {
		var d struct {
			K, Grp string
			N      int
		}
		if err := json.Unmarshal(e.EventData, &d); err != nil || len(e.EventData) != 100 || d.N != 95+i || d.K != "k"+strconv.Itoa(95+i) {
			t.Fatalf("event %d: %s (%d bytes): %v", i, e.EventData, len(e.EventData), err)
		}
		groups[d.Grp]++
	}
	if len(groups) != whereGroups {
		t.Fatalf("groups %v", groups)
	}
	for _, tc := range []struct{ n, g, want int }{{2000, 0, 200}, {2000, 9, 200}, {15, 4, 2}, {15, 5, 1}, {3, 5, 0}, {100_000, 3, 10_000}} {
		if got := expectedWhereItems(tc.n, tc.g); got != tc.want {
			t.Errorf("expectedWhereItems(%d, %d) = %d, want %d", tc.n, tc.g, got, tc.want)
		}
	}
}

func TestWhereOpChecksTheItems(t *testing.T) {
	o := &whereOp{items: 25}
	w := &worker{curN: 3} // group 3 of items 0…24: 3, 13, 23
	page := []byte(`{"success":true,"data":{"queryId":"q","position":9,"items":[{"key":"k13","value":{}},{"key":"k23","value":{}},{"key":"k3","value":{}}]}}`)
	if n, ok := o.done(w, 200, page); !ok || n != 3 || w.failKind != "" {
		t.Fatalf("done = %d %v %q", n, ok, w.failKind)
	}
	short := []byte(`{"success":true,"data":{"queryId":"q","position":9,"items":[{"key":"k13","value":{}}]}}`)
	if _, ok := o.done(w, 200, short); ok || w.failKind != "where-count" {
		t.Fatalf("a short page passed (%q)", w.failKind)
	}
}
