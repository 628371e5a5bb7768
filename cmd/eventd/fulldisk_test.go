package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestFullDiskForReal fills a real (tmpfs) file system through the HTTP
// API and checks the promises of docs/failures.md for a full disk: appends
// answer 503 and /health says unhealthy with the reason, no acknowledged
// event is lost, freeing space (a ballast file placed beforehand) is all
// it takes for appends to be taken again, without a restart, and the data
// dir verifies clean afterwards.
//
// It needs root on Linux to mount the tmpfs, and fails (never skips) when
// it cannot: CI runs it as root.
func TestFullDiskForReal(t *testing.T) {
	mnt := mountTmpfs(t, 48<<20)
	ballast := filepath.Join(mnt, "ballast")
	writeBallast(t, ballast, 8<<20)
	dir := filepath.Join(mnt, "data")
	d := startDaemon(t, dir, "--segment-size", "4MiB", "--snapshot-every", "0", "--snapshot-after", "0")
	t.Cleanup(func() { d.kill() }) // before the unmount: a busy mount cannot go
	base := "http://" + d.addr
	c := &http.Client{Timeout: 20 * time.Second}

	h0 := health(t, c, base)
	if h0.Status != "healthy" {
		t.Fatalf("/health at start: %+v", h0)
	}

	// Fill the disk with concurrent writers until appends answer 503.
	var mu sync.Mutex
	acked := map[uint64]ackedEvent{}
	record := func(stream string, evs []ackedEvent) {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range evs {
			e.stream = stream
			if _, dup := acked[e.Position]; dup {
				t.Errorf("position %d acknowledged twice", e.Position)
			}
			acked[e.Position] = e
		}
	}
	pad := strings.Repeat("x", 2000)
	deadline := time.Now().Add(90 * time.Second)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for w := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stream := fmt.Sprintf("fill-%d", w)
			for i := 0; ; i++ {
				if time.Now().After(deadline) {
					errs[w] = fmt.Errorf("no 503 within 90s")
					return
				}
				code, evs, body := appendBatch(c, base, stream, i, 20, pad)
				switch code {
				case http.StatusCreated:
					record(stream, evs)
				case http.StatusServiceUnavailable:
					if !strings.Contains(body, "no space left on device") {
						errs[w] = fmt.Errorf("503 without the reason: %s", body)
					}
					return
				default:
					errs[w] = fmt.Errorf("append: %d %s", code, body)
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatalf("%v\n%s", err, d.out.String())
		}
	}
	if len(acked) < 1000 {
		t.Fatalf("only %d events acknowledged before the disk was full", len(acked))
	}

	// Full: 503 and unhealthy, with the reason.
	h := health(t, c, base)
	if h.code != http.StatusServiceUnavailable || h.Status != "unhealthy" || !strings.Contains(strings.Join(h.Problems, " "), "no space left on device") {
		t.Fatalf("/health on a full disk: %d %+v", h.code, h)
	}
	if code, _, body := appendBatch(c, base, "while-full", 0, 1, ""); code != http.StatusServiceUnavailable {
		t.Fatalf("append on a full disk: %d %s", code, body)
	}
	checkAllAcked(t, c, base, h0.HeadPosition, acked)

	// Free space: the daemon takes appends again by itself.
	if err := os.Remove(ballast); err != nil {
		t.Fatal(err)
	}
	resumeBy := time.Now().Add(30 * time.Second)
	for {
		code, evs, body := appendBatch(c, base, "after", 0, 1, "")
		if code == http.StatusCreated {
			record("after", evs)
			break
		}
		if code != http.StatusServiceUnavailable || time.Now().After(resumeBy) {
			t.Fatalf("after freeing space: %d %s\n%s", code, body, d.out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	for i := 1; i < 20; i++ {
		code, evs, body := appendBatch(c, base, "after", i, 20, pad)
		if code != http.StatusCreated {
			t.Fatalf("append %d after recovery: %d %s", i, code, body)
		}
		record("after", evs)
	}
	if h := health(t, c, base); h.code != http.StatusOK || h.Status != "healthy" {
		t.Fatalf("/health after recovery: %d %+v", h.code, h)
	}
	checkAllAcked(t, c, base, h0.HeadPosition, acked)
	d.stop(t)

	out, err := exec.Command(binary(t), "verify", "--data-dir", dir).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "OK") {
		t.Fatalf("verify after a full disk: %v\n%s", err, out)
	}
	if want := fmt.Sprintf("records:  %d\n", h0.HeadPosition+uint64(len(acked))); !strings.Contains(string(out), want) {
		t.Fatalf("verify counts other than %q:\n%s", want, out)
	}
}

// mountTmpfs mounts a tmpfs of size bytes in a temporary directory and
// unmounts it when the test ends, whatever happened. It fails the test
// (never skips it) when mounting is refused.
func mountTmpfs(t *testing.T, size int64) string {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Fatalf("this test mounts a tmpfs: it needs Linux and root (GOOS=%s)", runtime.GOOS)
	}
	if os.Geteuid() != 0 {
		t.Fatalf("this test mounts a tmpfs: it needs root (euid %d); CI runs it as root", os.Geteuid())
	}
	dir := t.TempDir()
	out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d,mode=0755", size), "tmpfs", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("mount -t tmpfs at %s refused: %v\n%s", dir, err, out)
	}
	t.Cleanup(func() {
		var out []byte
		var err error
		for range 50 { // the daemon may still be exiting
			if out, err = exec.Command("umount", dir).CombinedOutput(); err == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		lout, lerr := exec.Command("umount", "-l", dir).CombinedOutput()
		t.Errorf("umount %s: %v %s (lazy unmount: %v %s)", dir, err, out, lerr, lout)
	})
	mounts, err := os.ReadFile("/proc/self/mounts")
	if err != nil || !strings.Contains(string(mounts), " "+dir+" tmpfs ") {
		t.Fatalf("no tmpfs at %s after mounting it (%v):\n%s", dir, err, mounts)
	}
	return dir
}

// writeBallast writes a file of n real bytes (not sparse) and syncs it.
func writeBallast(t *testing.T, path string, n int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(bytes.Repeat([]byte{0x5a}, n)); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// kill ends the daemon if it still runs and waits for it (10 s at most).
func (d *daemon) kill() {
	if d.cmd.ProcessState != nil {
		return
	}
	_ = d.cmd.Process.Kill()
	select {
	case <-d.done:
	case <-time.After(10 * time.Second):
	}
}

type ackedEvent struct {
	ID       string `json:"eventId"`
	Position uint64 `json:"position"`
	stream   string
}

// appendBatch appends n events of stream (request i) and returns the
// status, the acknowledged events and the body.
func appendBatch(c *http.Client, base, stream string, i, n int, pad string) (int, []ackedEvent, string) {
	var b strings.Builder
	b.WriteString(`{"events":[`)
	for j := range n {
		if j > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"eventType":"Filled","eventId":"%s-%d-%d","eventData":{"pad":%q}}`, stream, i, j, pad)
	}
	b.WriteString(`]}`)
	res, err := c.Post(base+"/api/streams/"+stream+"/events", "application/json", strings.NewReader(b.String()))
	if err != nil {
		return 0, nil, err.Error()
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	var v struct {
		Data struct {
			Events []ackedEvent `json:"events"`
		} `json:"data"`
	}
	if res.StatusCode == http.StatusCreated {
		if err := json.Unmarshal(body, &v); err != nil || len(v.Data.Events) != n {
			return 0, nil, fmt.Sprintf("bad 201 answer (%v): %s", err, body)
		}
	}
	return res.StatusCode, v.Data.Events, string(body)
}

type healthAnswer struct {
	code         int
	Status       string   `json:"status"`
	HeadPosition uint64   `json:"headPosition"`
	Problems     []string `json:"problems"`
}

func health(t *testing.T, c *http.Client, base string) healthAnswer {
	t.Helper()
	res, err := c.Get(base + "/health")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var h healthAnswer
	if err := json.NewDecoder(res.Body).Decode(&h); err != nil {
		t.Fatal(err)
	}
	h.code = res.StatusCode
	return h
}

// checkAllAcked reads $all: after the events there were at the start
// (head0), exactly the acknowledged ones, gap-free, each where its answer
// said.
func checkAllAcked(t *testing.T, c *http.Client, base string, head0 uint64, acked map[uint64]ackedEvent) {
	t.Helper()
	var from, n uint64
	for {
		res, err := c.Get(fmt.Sprintf("%s/api/all?fromPosition=%d&limit=10000", base, from))
		if err != nil {
			t.Fatal(err)
		}
		var page struct {
			Data struct {
				Events []struct {
					ID       string `json:"eventId"`
					StreamID string `json:"streamId"`
					Position uint64 `json:"position"`
				} `json:"events"`
			} `json:"data"`
		}
		err = json.NewDecoder(res.Body).Decode(&page)
		res.Body.Close()
		if err != nil || res.StatusCode != http.StatusOK {
			t.Fatalf("GET /api/all from %d: %d %v", from, res.StatusCode, err)
		}
		if len(page.Data.Events) == 0 {
			break
		}
		for _, e := range page.Data.Events {
			if e.Position != from+1 {
				t.Fatalf("$all: position %d after %d (a gap)", e.Position, from)
			}
			from = e.Position
			if e.Position <= head0 {
				continue
			}
			a, ok := acked[e.Position]
			if !ok || a.ID != e.ID || a.stream != e.StreamID {
				t.Fatalf("$all position %d: %s/%s, acknowledged there: %+v (known %v)", e.Position, e.StreamID, e.ID, a, ok)
			}
			n++
		}
	}
	if n != uint64(len(acked)) {
		t.Fatalf("$all holds %d of the %d acknowledged events", n, len(acked))
	}
}
