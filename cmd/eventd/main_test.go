package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"65536": 65536, "64KiB": 64 << 10, "4MiB": 4 << 20, "1GiB": 1 << 30, "10B": 10} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1", "4MB", "4 MiB", "MiB", "1.5MiB", "+5", "99999999999GiB"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q): want an error", in)
		}
	}
}

func TestBadFlagsExit2(t *testing.T) {
	for _, args := range [][]string{
		{"serve", "--fsync", "sometimes"},
		{"serve", "--max-body", "4MB"},
		{"serve", "--segment-size", "0"},
		{"serve", "--fsync-interval", "-1s"},
		{"serve", "--dedupe-window", "soon"},
		{"serve", "--verify-on-start", "half"},
		{"serve", "--log-format", "xml"},
		{"serve", "--repair"},
		{"serve", "--tls-cert", "c.pem"},
		{"serve", "--no-such-flag"},
		{"serve", "extra-arg"},
		{"--listen"},
		{"frobnicate"},
		{"verify", "--bogus"},
		{"dump"},
	} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 2 {
			t.Errorf("eventd %s: exit %d, want 2 (stderr %q)", strings.Join(args, " "), code, errb.String())
		} else if errb.Len() == 0 {
			t.Errorf("eventd %s: no message", strings.Join(args, " "))
		}
	}
	t.Setenv("EVENTD_FSYNC", "bad")
	var out, errb bytes.Buffer
	if code := run([]string{"serve"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "EVENTD_FSYNC") {
		t.Errorf("bad EVENTD_FSYNC: exit %d, %q", code, errb.String())
	}
}

func TestHelpExits0(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"help"}, {"serve", "--help"}, {"verify", "--help"}, {"dump", "--help"}} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 0 {
			t.Errorf("eventd %s: exit %d", strings.Join(args, " "), code)
		}
		if !strings.Contains(out.String()+errb.String(), "Usage") {
			t.Errorf("eventd %s: no usage text", strings.Join(args, " "))
		}
	}
	var out, errb bytes.Buffer
	run([]string{"serve", "--help"}, &out, &errb)
	if !strings.Contains(errb.String(), "EVENTD_DATA_DIR") {
		t.Error("serve --help does not name the env twins")
	}
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// TestMain removes the binary built for the tests, so a run leaves nothing behind.
func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// binary builds eventd once per test run.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "eventd-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "eventd")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

type daemon struct {
	cmd  *exec.Cmd
	addr string
	out  *bytes.Buffer
	done chan error
}

func freeAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

type syncBuf struct {
	mu sync.Mutex
	bytes.Buffer
}

func (b *syncBuf) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.Buffer.Write(p)
}

// spawn starts `eventd serve` on dir and a free local port, its output
// (warnings and up) in out.
func spawn(t *testing.T, dir string, extra []string) (cmd *exec.Cmd, addr string, out *syncBuf) {
	t.Helper()
	addr = freeAddr(t)
	args := append([]string{"serve", "--data-dir", dir, "--listen", addr}, extra...)
	cmd = exec.Command(binary(t), args...)
	out = &syncBuf{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = append(os.Environ(), "EVENTD_LOG_LEVEL=warn")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, addr, out
}

func startDaemon(t *testing.T, dir string, extra ...string) *daemon {
	t.Helper()
	cmd, addr, out := spawn(t, dir, extra)
	d := &daemon{cmd: cmd, addr: addr, out: &out.Buffer, done: make(chan error, 1)}
	go func() { d.done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	deadline := time.Now().Add(15 * time.Second)
	for {
		if res, err := http.Get("http://" + addr + "/health"); err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				return d
			}
		}
		select {
		case err := <-d.done:
			t.Fatalf("daemon exited early: %v\n%s", err, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon not healthy within 15s\n%s", out.String())
		}
		time.Sleep(30 * time.Millisecond)
	}
}

// stop sends SIGTERM and wants exit status 0.
func (d *daemon) stop(t *testing.T) {
	t.Helper()
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.done:
		if err != nil {
			t.Fatalf("daemon exit after SIGTERM: %v\n%s", err, d.out.String())
		}
	case <-time.After(20 * time.Second):
		_ = d.cmd.Process.Kill()
		t.Fatalf("daemon did not exit within 20s of SIGTERM\n%s", d.out.String())
	}
}

func post(t *testing.T, url, body string) map[string]any {
	t.Helper()
	res, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 201 {
		t.Fatalf("POST %s: %d %s", url, res.StatusCode, b)
	}
	var v map[string]any
	_ = json.Unmarshal(b, &v)
	return v
}

func TestDaemonRestartAndVerify(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	dir := filepath.Join(t.TempDir(), "data")
	d := startDaemon(t, dir, "--fsync", "interval", "--fsync-interval", "5ms")
	base := "http://" + d.addr
	for i := range 3 {
		post(t, base+"/api/events", fmt.Sprintf(`{"streamId":"order-1","eventType":"Placed","eventData":{"i":%d}}`, i))
	}
	post(t, base+"/api/streams/order-2/events", `{"events":[{"eventType":"A","eventData":{}},{"eventType":"B","eventData":{}}]}`)
	d.stop(t)

	d = startDaemon(t, dir)
	res, err := http.Get("http://" + d.addr + "/api/events/order-1")
	if err != nil {
		t.Fatal(err)
	}
	var page struct {
		Data struct {
			Events         []map[string]any `json:"events"`
			CurrentVersion int              `json:"currentVersion"`
		} `json:"data"`
	}
	err = json.NewDecoder(res.Body).Decode(&page)
	res.Body.Close()
	if err != nil || page.Data.CurrentVersion != 3 || len(page.Data.Events) != 3 {
		t.Fatalf("after restart: %v %+v", err, page)
	}
	d.stop(t)

	out, err := exec.Command(binary(t), "verify", "--data-dir", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("verify on a good data dir: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "records:  5") || !strings.Contains(string(out), "OK") {
		t.Fatalf("verify output:\n%s", out)
	}
	out, err = exec.Command(binary(t), "dump", "--data-dir", dir, "--stream", "order-2").Output()
	if err != nil || strings.Count(string(out), "\n") != 2 {
		t.Fatalf("dump --stream: %v\n%s", err, out)
	}
	segs, _ := filepath.Glob(filepath.Join(dir, "log", "*.seg"))
	if len(segs) == 0 {
		t.Fatal("no segment files")
	}
	out, err = exec.Command(binary(t), "dump", segs[0]).Output()
	if err != nil || strings.Count(string(out), "\n") != 5 {
		t.Fatalf("dump FILE: %v\n%s", err, out)
	}
	// The file's real name and API-style timestamps (milliseconds, Z).
	var rec struct{ File, Timestamp string }
	if err := json.Unmarshal([]byte(strings.SplitN(string(out), "\n", 2)[0]), &rec); err != nil ||
		rec.File != filepath.Base(segs[0]) || len(rec.Timestamp) != len("2024-01-15T10:30:00.000Z") || !strings.HasSuffix(rec.Timestamp, "Z") {
		t.Fatalf("dump FILE record: %+v %v", rec, err)
	}
	// An unknown or invalid stream says so and exits 1.
	for _, id := range []string{"nobody-1", "a b"} {
		cmd := exec.Command(binary(t), "dump", "--data-dir", dir, "--stream", id)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(stderr.String(), "stream") {
			t.Fatalf("dump --stream %q: %v, stderr %q", id, err, stderr.String())
		}
	}
}

func TestVersion(t *testing.T) {
	for _, arg := range []string{"--version", "version"} {
		var out, errb bytes.Buffer
		if code := run([]string{arg}, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "eventd ") || !strings.Contains(out.String(), "go1.") {
			t.Fatalf("%s: exit %d, %q", arg, code, out.String())
		}
	}
}
