package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

type sseMsg struct {
	id, event, data, comment string
}

type sseClient struct {
	cancel context.CancelFunc
	msgs   chan sseMsg
}

func (e *testEnv) subscribe(t *testing.T, path string, hdr ...string) *sseClient {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", e.ts.URL+path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		cancel()
		t.Fatalf("subscribe %s: %d %s", path, res.StatusCode, res.Header.Get("Content-Type"))
	}
	c := &sseClient{cancel: cancel, msgs: make(chan sseMsg, 1<<14)}
	go func() {
		defer close(c.msgs)
		defer res.Body.Close()
		br := bufio.NewReader(res.Body)
		var m sseMsg
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			line = strings.TrimSuffix(line, "\n")
			switch {
			case line == "":
				if m != (sseMsg{}) {
					c.msgs <- m
				}
				m = sseMsg{}
			case strings.HasPrefix(line, ":"):
				m.comment = strings.TrimSpace(line[1:])
			case strings.HasPrefix(line, "id: "):
				m.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				m.event = line[7:]
			case strings.HasPrefix(line, "data: "):
				m.data = line[6:]
			}
		}
	}()
	t.Cleanup(cancel)
	return c
}

// events reads n event messages (skipping comments) and returns positions.
func (c *sseClient) events(t *testing.T, n int) []int64 {
	t.Helper()
	var out []int64
	deadline := time.After(20 * time.Second)
	for len(out) < n {
		select {
		case m, ok := <-c.msgs:
			if !ok {
				t.Fatalf("SSE ended after %d of %d events", len(out), n)
			}
			if m.data == "" {
				continue
			}
			var ev map[string]any
			if err := json.Unmarshal([]byte(m.data), &ev); err != nil {
				t.Fatalf("data is not JSON: %v: %s", err, m.data)
			}
			pos := int64(ev["position"].(float64))
			if m.id != strconv.FormatInt(pos, 10) || m.event != ev["eventType"] {
				t.Fatalf("id/event %q/%q do not match the event %s", m.id, m.event, m.data)
			}
			out = append(out, pos)
		case <-deadline:
			t.Fatalf("got %d of %d events within 20s", len(out), n)
		}
	}
	return out
}

// quiet asserts no further event arrives within d.
func (c *sseClient) quiet(t *testing.T, d time.Duration) {
	t.Helper()
	timer := time.After(d)
	for {
		select {
		case m, ok := <-c.msgs:
			if ok && m.data != "" {
				t.Fatalf("unexpected event id=%s %s", m.id, m.data)
			}
			if !ok {
				return
			}
		case <-timer:
			return
		}
	}
}

func wantSeq(t *testing.T, who string, got []int64, from, to int64) {
	t.Helper()
	if int64(len(got)) != to-from+1 {
		t.Fatalf("%s: want %d events, got %d", who, to-from+1, len(got))
	}
	for i, p := range got {
		if p != from+int64(i) {
			t.Fatalf("%s: index %d has position %d, want %d (skipped, repeated or reordered)", who, i, p, from+int64(i))
		}
	}
}

func TestSSEBurst(t *testing.T) {
	e := newEnv(t, Config{Heartbeat: 50 * time.Millisecond})
	before := e.subscribe(t, "/api/subscribe?fromPosition=0")
	const writers, each = 8, 40
	total := int64(writers * each)
	var wg sync.WaitGroup
	var mu sync.Mutex
	started := 0
	third := make(chan struct{})
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				var r *reply
				if i%10 == 9 { // some batches of one, through the batch route
					r = e.post(fmt.Sprintf("/api/streams/burst-%d/events", w), M{"events": []M{{"eventType": "Tick", "eventData": M{"i": i}}}})
				} else {
					r = e.post("/api/events", M{"streamId": fmt.Sprintf("burst-%d", w), "eventType": "Tick", "eventData": M{"i": i}})
				}
				if r.status != 201 {
					t.Errorf("append: %d %s", r.status, r.body)
					return
				}
				mu.Lock()
				started++
				if started == int(total)/3 {
					close(third)
				}
				mu.Unlock()
			}
		}()
	}
	<-third
	during := e.subscribe(t, "/api/subscribe?fromPosition=0")
	live := e.subscribe(t, "/api/subscribe") // no start point: from the head, whatever it is now
	wg.Wait()
	after := e.subscribe(t, "/api/subscribe?fromPosition=0")
	wantSeq(t, "before", before.events(t, int(total)), 1, total)
	wantSeq(t, "during", during.events(t, int(total)), 1, total)
	wantSeq(t, "after", after.events(t, int(total)), 1, total)
	after.quiet(t, 100*time.Millisecond)
	// The live subscriber saw a gap-free tail ending at the head.
	var got []int64
	quietUntil := time.After(300 * time.Millisecond)
collect:
	for {
		select {
		case m := <-live.msgs:
			if m.id != "" {
				p, _ := strconv.ParseInt(m.id, 10, 64)
				got = append(got, p)
			}
		case <-quietUntil:
			break collect
		}
	}
	if len(got) > 0 {
		wantSeq(t, "live", got, got[0], total)
	}

	// Resume with Last-Event-ID: it wins over the query.
	r := e.subscribe(t, "/api/subscribe?fromPosition=0", "Last-Event-ID", "100")
	wantSeq(t, "resumed", r.events(t, int(total)-100), 101, total)
	r.quiet(t, 100*time.Millisecond)

	// Filters and the stream route.
	f := e.subscribe(t, "/api/subscribe?fromPosition=0&streamPrefix=burst-3")
	if got := f.events(t, each); len(got) != each {
		t.Fatal("prefix filter")
	}
	f.quiet(t, 100*time.Millisecond)
	s := e.subscribe(t, "/api/streams/burst-5/subscribe?fromVersion=30")
	if got := s.events(t, each-30); len(got) != each-30 {
		t.Fatal("stream subscription")
	}
	s.quiet(t, 100*time.Millisecond)
	e.add("burst-5", "Tick", M{})
	if got := s.events(t, 1); got[0] != total+1 {
		t.Fatalf("live stream event at %d, want %d", got[0], total+1)
	}
	sr := e.subscribe(t, "/api/streams/burst-5/subscribe?fromVersion=0", "Last-Event-ID", strconv.FormatInt(total, 10))
	if got := sr.events(t, 1); got[0] != total+1 {
		t.Fatalf("stream resume gave %d", got[0])
	}
}

func TestSSEHeartbeatAndShutdown(t *testing.T) {
	e := newEnv(t, Config{Heartbeat: 30 * time.Millisecond})
	c := e.subscribe(t, "/api/subscribe")
	deadline := time.After(5 * time.Second)
	beats := 0
	for beats < 2 {
		select {
		case m := <-c.msgs:
			if m.comment == "heartbeat" {
				beats++
			}
		case <-deadline:
			t.Fatal("no heartbeats")
		}
	}
	e.srv.CloseStreams()
	select {
	case _, ok := <-c.msgs:
		for ok {
			_, ok = <-c.msgs
		}
	case <-time.After(5 * time.Second):
		t.Fatal("CloseStreams did not end the subscription")
	}
	if r := e.get("/api/subscribe"); r.status != 503 {
		t.Fatalf("subscribe after CloseStreams: %d", r.status)
	}
}
