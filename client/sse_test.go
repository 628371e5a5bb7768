package client

import (
	"io"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func TestSSEReader(t *testing.T) {
	in := ": subscribed\n\n" +
		"id: 1\nevent: A\ndata: {\"a\":1}\n\n" + // LF
		"id: 2\r\nevent: B\r\ndata: x\r\n\r\n" + // CRLF
		"id: 3\revent: C\rdata: y\r\r" + // CR
		"data: first\ndata:second\ndata\n\n" + // several data lines, no space, no colon
		"event: error\ndata: \"boom\"\n\n" + // no id
		"id: 4\nevent: only-id\n\n" + // no data: not dispatched
		"id: a\x00b\nretry: 5\nunknown: z\ndata: nul id\n\n" +
		"id: 9\ndata: cut off" // unterminated: dropped
	want := []sseMessage{
		{event: "A", data: []byte(`{"a":1}`), id: "1", hasID: true},
		{event: "B", data: []byte("x"), id: "2", hasID: true},
		{event: "C", data: []byte("y"), id: "3", hasID: true},
		{event: "message", data: []byte("first\nsecond\n")},
		{event: "error", data: []byte(`"boom"`)},
		{event: "message", data: []byte("nul id")},
	}
	for name, r := range map[string]io.Reader{
		"whole":    strings.NewReader(in),
		"bytewise": iotest.OneByteReader(strings.NewReader(in)),
	} {
		sr := newSSEReader(r)
		for i, w := range want {
			m, err := sr.next()
			if err != nil {
				t.Fatalf("%s: message %d: %v", name, i, err)
			}
			if m.event != w.event || string(m.data) != string(w.data) || m.id != w.id || m.hasID != w.hasID {
				t.Fatalf("%s: message %d: %+v (data %q), want %+v", name, i, m, m.data, w)
			}
		}
		if m, err := sr.next(); err != io.EOF {
			t.Fatalf("%s: after the last message: %+v %v", name, m, err)
		}
	}

	// A line longer than the reader's buffer.
	long := strings.Repeat("x", 200<<10)
	sr := newSSEReader(strings.NewReader("data: " + long + "\n\n"))
	if m, err := sr.next(); err != nil || string(m.data) != long {
		t.Fatalf("long line: %d bytes, %v", len(m.data), err)
	}
}

func TestBackoff(t *testing.T) {
	p := RetryPolicy{InitialBackoff: 100 * time.Millisecond, MaxBackoff: time.Second}.withDefaults()
	if p.MaxAttempts != 4 {
		t.Fatalf("default attempts %d", p.MaxAttempts)
	}
	for n, want := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond,
		4: 800 * time.Millisecond, 5: time.Second, 60: time.Second} {
		if got := capped(p.InitialBackoff, p.MaxBackoff, n); got != want {
			t.Errorf("capped(%d) = %v, want %v", n, got, want)
		}
		for i := 0; i < 100; i++ {
			if got := p.backoff(n); got < want/2 || got > want {
				t.Fatalf("backoff(%d) = %v outside [%v, %v]", n, got, want/2, want)
			}
		}
	}
	if got := (RetryPolicy{InitialBackoff: time.Second, MaxBackoff: time.Millisecond}).withDefaults(); got.MaxBackoff != time.Second {
		t.Fatalf("MaxBackoff below InitialBackoff: %+v", got)
	}
}

func TestExpectedVersionJSON(t *testing.T) {
	for v, want := range map[ExpectedVersion]string{Any: `"any"`, NoStream: `"no_stream"`, StreamExists: `"exists"`, Exact(7): `7`, Exact(0): `0`} {
		b, err := v.MarshalJSON()
		if err != nil || string(b) != want {
			t.Errorf("%v: %s %v, want %s", v, b, err, want)
		}
	}
	if !Any.IsAny() || NoStream.IsAny() || (ExpectedVersion{}) != Any || expectedPtr(Any) != nil || *expectedPtr(Exact(3)) != Exact(3) {
		t.Fatal("Any is not the zero value")
	}
}
