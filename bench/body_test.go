package bench

import (
	"encoding/json"
	"testing"
)

func TestBodiesAreValidJSONOfTheRequestedSize(t *testing.T) {
	for _, size := range []int{0, 5, 10, 11, 200, 4096} {
		b := newBodies(size)
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
	bb := newBodies(200)
	var buf []byte
	for b.Loop() {
		buf = bb.appendBatch(buf[:0], 12345, 100)
	}
	b.SetBytes(int64(len(buf)))
}
