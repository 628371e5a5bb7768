package server

import (
	"fmt"
	"strings"
	"testing"

	"github.com/eventd/eventd/engine"
)

// batchBody is a POST /api/streams/{id}/events body of n events with
// ~200-byte eventData, as the load generator sends.
func batchBody(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"expectedVersion":"any","events":[`)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"eventType":"BenchEvent","eventData":{"pad":"%s","i":%d}}`, strings.Repeat("x", 180), i)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

// BenchmarkParseBatch measures the request-body work of a 100-event batch
// append: validation (checkBody) and field extraction (parseBatch).
func BenchmarkParseBatch(b *testing.B) {
	s := New(nil, Config{Logger: discardLogger()})
	body := batchBody(100)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if e := checkBody(body); e != nil {
			b.Fatal(e)
		}
		if _, props, e := s.parseBatch(body); e != nil || len(props) != 100 {
			b.Fatal(e, len(props))
		}
	}
}

// BenchmarkParseSingle is the same for POST /api/events.
func BenchmarkParseSingle(b *testing.B) {
	s := New(nil, Config{Logger: discardLogger()})
	body := []byte(`{"streamId":"bench-1-w1-s0","eventType":"BenchEvent","expectedVersion":7,"eventData":{"pad":"` + strings.Repeat("x", 190) + `"}}`)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if e := checkBody(body); e != nil {
			b.Fatal(e)
		}
		var p [1]engine.Proposed
		if _, _, e := s.eventFields(body, &p[0], true, -1); e != nil {
			b.Fatal(e)
		}
	}
}
