package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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

	"github.com/eventd/eventd/client"
)

// The tests run against real eventd daemons: the binary is built once per
// test binary from ../cmd/eventd, and each test starts its own daemon on a
// free loopback port with its data in t.TempDir().

var (
	binDir  string // holds the built binary; removed by TestMain
	binPath string
	binErr  error

	// eventdURL is the daemon the examples talk to (started by TestMain).
	eventdURL string
)

func TestMain(m *testing.M) {
	code := func() int {
		defer func() {
			if binDir != "" {
				os.RemoveAll(binDir)
			}
		}()
		binErr = buildEventd()
		if binErr == nil {
			stop, err := startExampleDaemon()
			if err != nil {
				binErr = err
			} else {
				defer stop()
			}
		}
		return m.Run()
	}()
	os.Exit(code)
}

func buildEventd() error {
	dir, err := os.MkdirTemp("", "eventd-client-test-")
	if err != nil {
		return err
	}
	binDir = dir
	binPath = filepath.Join(dir, "eventd")
	cmd := exec.Command("go", "build", "-o", binPath, "../cmd/eventd")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ../cmd/eventd: %v\n%s", err, out)
	}
	return nil
}

// syncBuf collects the daemon's output.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// daemon is one eventd process; start can run it again on the same data
// directory and address.
type daemon struct {
	DataDir string
	Addr    string
	URL     string
	extra   []string
	out     *syncBuf
	cmd     *exec.Cmd
	done    chan error
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startDaemon starts a fresh daemon (fsync never, for speed) and stops it
// at the end of the test.
func startDaemon(t testing.TB, extra ...string) *daemon {
	t.Helper()
	if binErr != nil {
		t.Fatal(binErr)
	}
	addr, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	d := &daemon{DataDir: filepath.Join(t.TempDir(), "data"), Addr: addr, URL: "http://" + addr, extra: extra, out: &syncBuf{}}
	if err := d.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.stop(); err != nil {
			t.Error(err)
		}
	})
	return d
}

// start runs the daemon and waits until /health answers 200.
func (d *daemon) start() error {
	args := append([]string{"serve", "--data-dir", d.DataDir, "--listen", d.Addr,
		"--fsync", "never", "--log-level", "warn"}, d.extra...)
	cmd := exec.Command(binPath, args...)
	cmd.Stdout, cmd.Stderr = d.out, d.out
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "EVENTD_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	d.cmd, d.done = cmd, make(chan error, 1)
	go func(done chan error) { done <- cmd.Wait() }(d.done)
	hc := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if res, err := hc.Get(d.URL + "/health"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-d.done:
			d.done <- err
			return fmt.Errorf("eventd exited before it was healthy: %v\n%s", err, d.out)
		case <-time.After(25 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			return fmt.Errorf("eventd not healthy within 20s\n%s", d.out)
		}
	}
}

// stop sends SIGTERM and waits for a clean exit (killing it after 20s).
func (d *daemon) stop() error {
	if d.cmd == nil {
		return nil
	}
	cmd, done := d.cmd, d.done
	d.cmd = nil
	select {
	case err := <-done:
		return fmt.Errorf("eventd had exited: %v\n%s", err, d.out)
	default:
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("eventd exit after SIGTERM: %v\n%s", err, d.out)
		}
		return nil
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		<-done
		return fmt.Errorf("eventd did not exit within 20s of SIGTERM\n%s", d.out)
	}
}

// startExampleDaemon starts the daemon of the examples (outside any test).
func startExampleDaemon() (stop func(), err error) {
	dir, err := os.MkdirTemp("", "eventd-client-example-")
	if err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	d := &daemon{DataDir: filepath.Join(dir, "data"), Addr: addr, URL: "http://" + addr, out: &syncBuf{}}
	if err := d.start(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	eventdURL = d.URL
	return func() {
		if err := d.stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
		os.RemoveAll(dir)
	}, nil
}

// newClient returns a client of d.
func newClient(t testing.TB, d *daemon, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.New(d.URL, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// testCtx is a context bounded for one test.
func testCtx(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// wantCode checks that err is an *APIError with that status and code,
// matching the sentinel.
func wantCode(t testing.TB, err error, status int, code string, sentinel error) *client.APIError {
	t.Helper()
	if err == nil {
		t.Fatalf("want %d %s, got no error", status, code)
	}
	var ae *client.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("want *APIError %d %s, got %T %v", status, code, err, err)
	}
	if ae.Status != status || ae.Code != code {
		t.Fatalf("want %d %s, got %d %s (%s)", status, code, ae.Status, ae.Code, ae.Message)
	}
	if sentinel != nil && !errors.Is(err, sentinel) {
		t.Fatalf("errors.Is(%v, %v) is false", err, sentinel)
	}
	return ae
}
