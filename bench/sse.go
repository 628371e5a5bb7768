package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// SSE catch-up: a worker opens a subscription at the beginning of $all
// (GET /api/subscribe?fromPosition=0) or of one of its read streams
// (GET /api/streams/{id}/subscribe?fromVersion=0), counts the messages
// that carry an id (comments and heartbeats are not events) until it has
// every event that was in the store when the phase began, closes the
// connection and starts again, until the phase's bound. The events counted
// are the messages received, a subscription cut off by the bound included;
// one "request" is one subscription that reached the head, and its latency
// is the whole catch-up, from sending the request to the last event.
//
// The subscription is read through net/http (a streaming, chunked body):
// there is one request per catch-up, so the client's per-request cost does
// not matter, and scanning the lines costs the same either way.

// sseOp is the SSE catch-up phase; stream selects stream subscriptions.
type sseOp struct{ stream bool }

// errSSEOrder is a subscription that skipped or repeated an event.
var errSSEOrder = errors.New("bench: subscription skipped or repeated an event")

// errSSEServer is an `event: error` message from the server.
var errSSEServer = errors.New("bench: the server ended the subscription with an error")

// sseReport is how often (in events) a subscription publishes its count.
const sseReport = 256

func (o *sseOp) loop(ctx context.Context, r *runner, w *worker) {
	tr := &http.Transport{Proxy: nil, DisableCompression: true, MaxIdleConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	for !r.stop.Load() && r.readBudgetLeft() {
		if r.reqLimited && r.reqBudget.Add(-1) < 0 {
			return
		}
		var path string
		var target uint64
		if o.stream {
			s := w.readStreams[w.readNext]
			w.readNext = (w.readNext + 1) % len(w.readStreams)
			path, target = "/api/streams/"+s.id+"/subscribe?fromVersion=0", s.version
		} else {
			path, target = "/api/subscribe?fromPosition=0", r.head
		}
		var status httpStatusError
		t0 := time.Now()
		complete, err := r.subscribe(ctx, hc, w, path, target, !o.stream)
		lat := time.Since(t0)
		switch {
		case complete:
			w.ctr.requests.Add(1)
			w.hist.Record(lat)
		case err != nil && !r.stop.Load() && ctx.Err() == nil:
			w.ctr.requests.Add(1)
			w.ctr.errors.Add(1)
			switch {
			case errors.Is(err, errSSEOrder):
				w.errs["sse-order"]++
			case errors.Is(err, errSSEServer):
				w.errs["sse-error"]++
			case errors.As(err, &status):
				w.errs[strconv.Itoa(int(status))]++
			default:
				w.errs["transport"]++
			}
			time.Sleep(10 * time.Millisecond) // do not spin on a dead server
		}
	}
}

type httpStatusError int

func (e httpStatusError) Error() string { return fmt.Sprintf("bench: HTTP status %d", int(e)) }

// subscribe reads one subscription until target events have arrived
// (complete), the phase stops, or an error. consecutive: ids must be
// 1, 2, 3, … ($all from 0); otherwise only increasing (a stream's
// positions).
func (r *runner) subscribe(ctx context.Context, hc *http.Client, w *worker, path string, target uint64, consecutive bool) (complete bool, err error) {
	if target == 0 {
		return false, errors.New("bench: nothing to catch up with")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.cfg.URL+path, nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Accept", "text/event-stream")
	res, err := hc.Do(req)
	if err != nil {
		return false, err
	}
	defer res.Body.Close() // mid-stream: the connection is dropped, the server's next write fails
	if res.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
		return false, httpStatusError(res.StatusCode)
	}
	sc := newSSEScanner(res.Body)
	var got, pending, last uint64
	defer func() {
		w.ctr.events.Add(int64(pending))
		r.events.Add(int64(pending))
	}()
	for got < target {
		if pending >= sseReport {
			w.ctr.events.Add(int64(pending))
			r.events.Add(int64(pending))
			pending = 0
			if r.stop.Load() || !r.readBudgetLeft() {
				return false, nil
			}
		}
		id, err := sc.next()
		if err != nil {
			return false, err
		}
		if id == 0 || consecutive && id != last+1 || id <= last {
			return false, errSSEOrder
		}
		last = id
		got++
		pending++
	}
	return true, nil
}

// sseScanner splits an event stream into messages.
type sseScanner struct {
	br *bufio.Reader
}

func newSSEScanner(rd io.Reader) *sseScanner {
	return &sseScanner{br: bufio.NewReaderSize(rd, 256<<10)}
}

var (
	sseID         = []byte("id:")
	sseEventError = []byte("event: error")
)

// next returns the id of the next message that has one, skipping comments
// and id-less messages; an `event: error` message is errSSEServer.
func (s *sseScanner) next() (uint64, error) {
	var id uint64
	haveID, isError, cont := false, false, false
	for {
		line, err := s.br.ReadSlice('\n')
		if err == bufio.ErrBufferFull { // a long data line: only its start matters
			cont = true
			continue
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		if cont { // the end of a long line
			cont = false
			continue
		}
		line = bytes.TrimRight(line, "\r\n")
		switch {
		case len(line) == 0: // end of a message
			if isError {
				return 0, errSSEServer
			}
			if haveID {
				return id, nil
			}
		case bytes.HasPrefix(line, sseID):
			v, ok := parseID(bytes.TrimSpace(line[len(sseID):]))
			if !ok {
				return 0, fmt.Errorf("bench: SSE id %q", line)
			}
			id, haveID = v, true
		case bytes.Equal(line, sseEventError):
			isError = true
		}
	}
}

// parseID parses a decimal position without allocating.
func parseID(b []byte) (uint64, bool) {
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	return v, true
}
