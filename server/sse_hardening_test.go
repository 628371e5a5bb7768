package server

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eventd/eventd/engine"
)

// lockedBuffer is a log destination tests read while the server writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// metricValue is the value of the counter or gauge name with the given
// label pairs (-1: none such).
func metricValue(t *testing.T, m *Metrics, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, mm := range mf.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, lp := range mm.GetLabel() {
					found = found || (lp.GetName() == labels[i] && lp.GetValue() == labels[i+1])
				}
				if !found {
					continue next
				}
			}
			if c := mm.GetCounter(); c != nil {
				return c.GetValue()
			}
			return mm.GetGauge().GetValue()
		}
	}
	return -1
}

// heapAlloc is the live heap after a full collection (twice: sync.Pools
// keep their items for one more cycle).
func heapAlloc() int64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// stalledSubscriber opens path over a raw connection and never reads it;
// rcvbuf > 0 sets the socket's receive buffer (the less, the sooner the
// server's writes block, but the slower what it sent drains).
func (e *testEnv) stalledSubscriber(t *testing.T, path string, rcvbuf int) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", e.ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if rcvbuf > 0 {
		_ = c.(*net.TCPConn).SetReadBuffer(rcvbuf)
	}
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: eventd\r\n\r\n", path); err != nil {
		t.Fatal(err)
	}
	return c
}

// stalled waits until the SSE subscribers hold exactly want bytes (each
// the page it is blocked writing, none a reservation for a read) for
// 200 ms.
func (e *testEnv) stalled(t *testing.T, want int64) {
	t.Helper()
	same := 0
	eventually(t, 30*time.Second, "the subscribers stalled", func() bool {
		if e.srv.sseMem.inUse() == want {
			same++
		} else {
			same = 0
		}
		time.Sleep(40 * time.Millisecond)
		return same >= 5
	})
}

// pageCharge is what a stalled subscriber holds against the budget when
// every page it reads is n events like the first of stream.
func (e *testEnv) pageCharge(t *testing.T, stream string, n int) int64 {
	t.Helper()
	p, err := e.store.ReadStream(stream, 0, engine.Forward, 1)
	if err != nil || len(p.Events) != 1 {
		t.Fatal(err)
	}
	page := make([]engine.Event, n)
	for i := range page {
		page[i] = p.Events[0]
	}
	return heldBytes(page)
}

// appendBig stores n events of about size bytes each in stream.
func (e *testEnv) appendBig(t *testing.T, stream string, n, size int) {
	t.Helper()
	data := []byte(`{"pad":"` + strings.Repeat("x", size) + `"}`)
	for range n {
		if _, err := e.store.Append(context.Background(), stream, engine.Any, []engine.Proposed{{Type: "Big", Data: data}}); err != nil {
			t.Fatal(err)
		}
	}
}

// eventually polls cond every 10 ms until it holds or d passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSSEStalledSubscribers: subscribers that never read hold a bounded
// amount of memory (not the events they are behind by), are dropped after
// --sse-write-timeout with a log line and a metric, and their memory goes
// back when they go.
func TestSSEStalledSubscribers(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 25 MiB")
	}
	log := &lockedBuffer{}
	e := newEnv(t, Config{SSEWriteTimeout: 5 * time.Second, Heartbeat: time.Hour, Logger: slog.New(slog.NewTextHandler(log, nil))})
	const events, size, subs = 100, 256 << 10, 4
	e.appendBig(t, "big-1", events, size) // 25 MiB: far more than the sockets buffer
	base := heapAlloc()

	conns := make([]net.Conn, subs)
	for i := range conns {
		path := "/api/subscribe?fromPosition=0"
		if i%2 == 1 {
			path = "/api/streams/big-1/subscribe?fromVersion=0"
		}
		conns[i] = e.stalledSubscriber(t, path, 128<<10)
	}
	// Each stalled subscriber holds the page it is writing: one event here.
	e.stalled(t, subs*e.pageCharge(t, "big-1", 1))
	held := heapAlloc() - base
	t.Logf("%d stalled subscribers, %d events of %d KiB behind: heap +%d KiB, budget in use %d KiB",
		subs, events, size>>10, held>>10, e.srv.sseMem.inUse()>>10)
	if limit := int64(subs * 2 << 20); held > limit { // before: every event, twice (~50 MiB each)
		t.Fatalf("stalled subscribers hold %d MiB, want under %d MiB", held>>20, limit>>20)
	}

	eventually(t, 20*time.Second, "stalled subscribers dropped", func() bool {
		return metricValue(t, e.srv.metrics, "eventd_subscribers_dropped_total", "reason", dropWriteTimeout) == subs
	})
	eventually(t, 5*time.Second, "budget given back", func() bool { return e.srv.sseMem.inUse() == 0 })
	eventually(t, 5*time.Second, "subscriptions closed", func() bool { return e.store.Stats().Subscribers == 0 })
	if after := heapAlloc() - base; after > 2<<20 {
		t.Fatalf("after the drops the heap is still %d KiB above the start", after>>10)
	}
	if n := strings.Count(log.String(), "dropping a stalled SSE subscriber"); n != subs {
		t.Fatalf("%d drop log lines, want %d:\n%s", n, subs, log.String())
	}
	if !strings.Contains(log.String(), "reason=write_timeout") {
		t.Fatalf("the log does not say why:\n%s", log.String())
	}
	// The server closed the connections: what they buffered, then EOF.
	for _, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.Copy(io.Discard, c); err != nil && !strings.Contains(err.Error(), "reset") {
			t.Fatalf("a dropped subscriber's connection stays open: %v", err)
		}
	}
	// A subscriber that reads is never dropped and gets every event.
	live := e.subscribe(t, "/api/subscribe?fromPosition=0")
	if got := live.events(t, events); len(got) != events {
		t.Fatal("reader")
	}
}

// TestSSEStalledSmallEvents: with small events, a stalled subscriber holds
// at most one page (sseReadBytes) and its render buffer.
func TestSSEStalledSmallEvents(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 12 MiB")
	}
	e := newEnv(t, Config{SSEWriteTimeout: time.Minute, Heartbeat: time.Hour})
	data := []byte(`{"pad":"` + strings.Repeat("x", 250) + `"}`)
	batch := make([]engine.Proposed, 1000)
	for i := range batch {
		batch[i] = engine.Proposed{Type: "Small", Data: data}
	}
	for i := range 40 { // 40,000 events of ~300 bytes
		if _, err := e.store.Append(context.Background(), fmt.Sprintf("small-%02d", i), engine.Any, batch); err != nil {
			t.Fatal(err)
		}
	}
	base := heapAlloc()
	const subs = 40
	for range subs {
		e.stalledSubscriber(t, "/api/subscribe?fromPosition=0", 4<<10)
	}
	// Each holds a page of sseBatch events (under sseReadBytes).
	e.stalled(t, subs*e.pageCharge(t, "small-00", sseBatch))
	per := (heapAlloc() - base) / subs
	t.Logf("stalled subscriber on small events: heap +%d KiB each", per>>10)
	if per > 400<<10 { // before: ~700 KiB
		t.Fatalf("a stalled subscriber holds %d KiB, want under 400 KiB", per>>10)
	}
}

// TestSSEMemoryBudget: all subscribers together stay within
// Config.SSEMemory; the ones over it wait (holding nothing) and go on once
// the stalled ones are dropped.
func TestSSEMemoryBudget(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 13 MiB")
	}
	// Room for one read's reservation (~1.1 MiB) and a stalled page or two.
	const budget = 1536 << 10
	e := newEnv(t, Config{SSEWriteTimeout: time.Second, SSEMemory: budget, Heartbeat: 100 * time.Millisecond})
	const events, size = 50, 256 << 10
	e.appendBig(t, "big-1", events, size)
	for range 4 {
		e.stalledSubscriber(t, "/api/subscribe?fromPosition=0", 4<<10)
	}
	eventually(t, 5*time.Second, "the budget spent", func() bool { return metricValue(t, e.srv.metrics, "eventd_sse_memory_waits_total") > 0 })
	for range 20 {
		if n := e.srv.sseMem.inUse(); n > budget {
			t.Fatalf("SSE subscribers hold %d bytes, budget %d", n, budget)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A reader that came last still gets everything, once the stalled
	// subscribers are dropped; heartbeats keep it alive meanwhile.
	live := e.subscribe(t, "/api/subscribe?fromPosition=0")
	if got := live.events(t, events); len(got) != events {
		t.Fatal("reader")
	}
	if n := metricValue(t, e.srv.metrics, "eventd_subscribers_dropped_total", "reason", dropWriteTimeout); n < 1 {
		t.Fatalf("%v stalled subscribers dropped", n)
	}
}

// TestSSEMessageMatchesEvent: an SSE message carries appendEvent's Event,
// compacted onto one line when the stored JSON has line breaks, also when
// large members are written without being copied.
func TestSSEMessageMatchesEvent(t *testing.T) {
	big := `{"pad":"` + strings.Repeat("y", 3*sseFlushAt) + `"}`
	mid := `{"pad":"` + strings.Repeat("m", sseFlushAt*2/3) + `"}`
	evs := []engine.Event{
		{Position: 1, StreamID: "a-1", Version: 1, ID: "id-1", Type: "T", Data: []byte(`{"a":1}`)},
		{Position: 2, StreamID: "a-1", Version: 2, ID: "\u00e9\"x", Type: "T", SchemaVersion: 3},
		{Position: 3, StreamID: "a-2", Version: 1, ID: "id-3", Type: "T", Data: []byte("{\n \"a\": [1,\r\n 2]}"), Metadata: []byte(`{ "m" : 1 }`)},
		{Position: 4, StreamID: "a-2", Version: 2, ID: "id-4", Type: "T", Data: []byte(big), Metadata: []byte(`{"m":2}`)},
		{Position: 5, StreamID: "a-2", Version: 3, ID: "id-5", Type: "T", Data: []byte(`{"x":true}`), Metadata: []byte(big)},
		{Position: 6, StreamID: "a-3", Version: 1, ID: "id-6", Type: "T", Data: []byte("{\"pad\":\n\"" + strings.Repeat("z", 2*sseFlushAt) + "\"}")},
		{Position: 7, StreamID: "a-3", Version: 2, ID: "id-7", Type: "T", Data: []byte(mid), Metadata: []byte(mid)},
		{Position: 8, StreamID: "a-3", Version: 3, ID: "id-8", Type: "T", Data: []byte(mid)},
	}
	for i := range evs {
		evs[i].Timestamp = time.Date(2024, 1, 15, 10, 30, 0, int(i)*1e6, time.UTC)
	}
	var want strings.Builder
	for i := range evs {
		ev := appendEvent(nil, &evs[i])
		if strings.ContainsAny(string(ev), "\r\n") {
			c, err := compactJSON(ev)
			if err != nil {
				t.Fatal(err)
			}
			ev = c
		}
		fmt.Fprintf(&want, "id: %d\nevent: %s\ndata: %s\n\n", evs[i].Position, evs[i].Type, ev)
	}
	rec := httptest.NewRecorder()
	sw := &sseWriter{w: rec, rc: http.NewResponseController(rec), timeout: time.Second}
	if !sw.sendEvents(evs) {
		t.Fatal(sw.err)
	}
	if got := rec.Body.String(); got != want.String() {
		t.Fatalf("SSE messages differ from the events:\n got %.300q\nwant %.300q", got, want.String())
	}
	// Every data line is one line.
	sc := bufio.NewScanner(strings.NewReader(rec.Body.String()))
	sc.Buffer(nil, 1<<20)
	lines := 0
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "data: ") {
			lines++
		}
	}
	if lines != len(evs) {
		t.Fatalf("%d data lines for %d events", lines, len(evs))
	}
}
