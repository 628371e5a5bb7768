package main

// Helpers of the tests that drive the real daemon binary under load
// (crash_mixed_test.go, soak_test.go): starting and killing it, a small
// JSON client, an SSE reader, and reading $all back.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// proc is one run of the daemon.
type proc struct {
	cmd  *exec.Cmd
	addr string
	dir  string // its data dir
	out  *syncBuf
	done chan struct{} // closed when it has exited
	err  error         // its exit, once done is closed
}

// launch starts the daemon on dir. With wait it returns once /health
// answers 200 (failing the test if it exits or takes more than 30 s). The
// process is killed at the end of the test whatever happens.
func launch(t *testing.T, dir string, wait bool, extra ...string) *proc {
	t.Helper()
	cmd, addr, out := spawn(t, dir, extra)
	p := &proc{cmd: cmd, addr: addr, dir: dir, out: out, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { p.kill() })
	if !wait {
		return p
	}
	hc := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if res, err := hc.Get("http://" + addr + "/health"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return p
			}
		}
		select {
		case <-p.done:
			t.Fatalf("daemon exited during start: %v\n%s", p.err, out.tail())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon not healthy within 30 s\n%s", out.tail())
		}
	}
}

// kill sends SIGKILL and waits for the exit (idempotent).
func (p *proc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
	}
}

// killed reports whether the process died of SIGKILL (not by itself).
func (p *proc) killed() bool {
	<-p.done
	ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// term sends SIGTERM and wants exit status 0 within 30 s.
func (p *proc) term(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if p.err != nil {
			t.Fatalf("daemon exit after SIGTERM: %v\n%s", p.err, p.out.tail())
		}
	case <-time.After(30 * time.Second):
		p.kill()
		t.Fatalf("daemon did not exit within 30 s of SIGTERM\n%s", p.out.tail())
	}
}

func (b *syncBuf) tail() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.String()
	if len(s) > 4000 {
		s = "…" + s[len(s)-4000:]
	}
	return s
}

// api is a JSON client of one daemon.
type api struct {
	base string
	hc   *http.Client
}

func newAPI(addr string, conns int) *api {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     30 * time.Second,
	}
	return &api{base: "http://" + addr, hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

func (a *api) close() { a.hc.CloseIdleConnections() }

// do sends body (a string, []byte or anything json.Marshal takes; nil: none)
// and returns the status and the raw answer. An error means no answer.
func (a *api) do(ctx context.Context, method, path string, body any, hdr ...string) (int, []byte, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := a.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return 0, nil, err
	}
	return res.StatusCode, b, nil
}

// data decodes the success envelope's data into v.
func data(raw []byte, v any) error {
	var env struct {
		Success bool            `json:"success"`
		Data    json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(raw, &env); err != nil {
		return fmt.Errorf("%w: %.300s", err, raw)
	}
	if !env.Success {
		return fmt.Errorf("not a success: %.300s", raw)
	}
	return json.Unmarshal(env.Data, v)
}

// must is do for a request that has to answer want; it decodes data into v.
func (a *api) must(t *testing.T, method, path string, body any, want int, v any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, raw, err := a.do(ctx, method, path, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	if st != want {
		t.Fatalf("%s %s: %d %.500s, want %d", method, path, st, raw, want)
	}
	if v != nil {
		if err := data(raw, v); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

// wireEvent is an event as the API returns it.
type wireEvent struct {
	EventID   string          `json:"eventId"`
	StreamID  string          `json:"streamId"`
	Version   uint64          `json:"version"`
	Position  uint64          `json:"position"`
	EventType string          `json:"eventType"`
	EventData json.RawMessage `json:"eventData"`
	Metadata  json.RawMessage `json:"metadata"`
}

// readAll pages through $all (as stored: no upcasting) from position 0.
func (a *api) readAll(ctx context.Context) ([]wireEvent, error) {
	var all []wireEvent
	for from := uint64(0); ; {
		st, raw, err := a.do(ctx, "GET", "/api/all?limit=10000&upcast=false&fromPosition="+strconv.FormatUint(from, 10), nil)
		if err != nil {
			return nil, err
		}
		if st != 200 {
			return nil, fmt.Errorf("GET /api/all: %d %.300s", st, raw)
		}
		var page struct {
			Events []wireEvent `json:"events"`
		}
		if err := data(raw, &page); err != nil {
			return nil, err
		}
		if len(page.Events) == 0 {
			return all, nil
		}
		all = append(all, page.Events...)
		from = page.Events[len(page.Events)-1].Position
	}
}

// sseEvent is one message of a subscription.
type sseEvent struct {
	pos  uint64
	typ  string
	data []byte
}

// subscribe opens an SSE subscription and calls fn with each event until
// the connection ends or ctx is done. It returns nil once the headers and
// the ": subscribed" comment arrived, then reads in a goroutine; done is
// closed when the reading ends.
func subscribe(ctx context.Context, hc *http.Client, url string, fn func(sseEvent) error) (done <-chan error, err error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return nil, err
	}
	res, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != 200 {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 300))
		res.Body.Close()
		return nil, fmt.Errorf("subscribe %s: %d %s", url, res.StatusCode, b)
	}
	br := bufio.NewReaderSize(res.Body, 64<<10)
	first, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(first, ": subscribed") {
		res.Body.Close()
		return nil, fmt.Errorf("subscribe %s: first line %q, %v", url, first, err)
	}
	ch := make(chan error, 1)
	go func() {
		defer res.Body.Close()
		var ev sseEvent
		for {
			line, err := br.ReadSlice('\n')
			if err != nil {
				ch <- err
				return
			}
			line = bytes.TrimRight(line, "\r\n")
			switch {
			case len(line) == 0:
				if ev.typ != "" || ev.pos != 0 {
					if err := fn(ev); err != nil {
						ch <- err
						return
					}
				}
				ev = sseEvent{}
			case line[0] == ':':
			case bytes.HasPrefix(line, []byte("id: ")):
				ev.pos, _ = strconv.ParseUint(string(line[4:]), 10, 64)
			case bytes.HasPrefix(line, []byte("event: ")):
				ev.typ = string(line[7:])
			case bytes.HasPrefix(line, []byte("data: ")):
				ev.data = append([]byte(nil), line[6:]...)
			}
		}
	}()
	return ch, nil
}
