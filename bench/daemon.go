package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Daemon is an eventd child process started for a run: `EXE serve
// --data-dir TMP/data --listen 127.0.0.1:PORT ARGS...`, with its output in
// TMP/server.log and no EVENTD_* variables in its environment.
type Daemon struct {
	URL     string
	Dir     string // the temporary directory: data/ and server.log
	Args    []string
	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
	logFile *os.File
}

// StartDaemon starts exe as a daemon on a free loopback port and a fresh
// data directory under os.TempDir, and waits until GET /health answers 200
// (at most timeout). On error nothing is left behind.
func StartDaemon(ctx context.Context, exe string, extra []string, timeout time.Duration) (*Daemon, error) {
	return startChild(ctx, exe, func(dir, addr string) []string {
		return append([]string{"serve", "--data-dir", filepath.Join(dir, "data"), "--listen", addr}, extra...)
	}, timeout)
}

// StartStub starts `EXE stub --listen 127.0.0.1:PORT`: the no-op HTTP
// target (see Stub), as a process of its own like the daemon.
func StartStub(ctx context.Context, exe string, timeout time.Duration) (*Daemon, error) {
	return startChild(ctx, exe, func(_, addr string) []string { return []string{"stub", "--listen", addr} }, timeout)
}

func startChild(ctx context.Context, exe string, argsFor func(dir, addr string) []string, timeout time.Duration) (*Daemon, error) {
	dir, err := os.MkdirTemp("", "eventd-bench-")
	if err != nil {
		return nil, err
	}
	d := &Daemon{Dir: dir, exited: make(chan struct{})}
	ok := false
	defer func() {
		if !ok {
			d.Stop()
		}
	}()
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	d.URL = "http://" + addr
	d.Args = argsFor(dir, addr)
	d.logFile, err = os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		return nil, err
	}
	d.cmd = exec.Command(exe, d.Args...)
	d.cmd.Env = withoutEventdEnv(os.Environ())
	d.cmd.Stdout, d.cmd.Stderr = d.logFile, d.logFile
	d.cmd.SysProcAttr = daemonProcAttr()
	if err := d.cmd.Start(); err != nil {
		close(d.exited)
		return nil, fmt.Errorf("bench: starting %s: %w", exe, err)
	}
	go func() {
		d.waitErr = d.cmd.Wait()
		close(d.exited)
	}()
	if err := d.waitHealthy(ctx, timeout); err != nil {
		return nil, fmt.Errorf("%w\n%s", err, d.LogTail(20))
	}
	ok = true
	return d, nil
}

// withoutEventdEnv drops the EVENTD_* variables, so that the daemon runs
// with its defaults plus the flags given, not with whatever configuration
// the shell happens to hold (EVENTD_AUTH_KEYS would turn every request
// into a 401).
func withoutEventdEnv(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "EVENTD_") {
			out = append(out, kv)
		}
	}
	return out
}

// freePort asks the kernel for a free loopback port. Another process could
// take it before the daemon binds it; the daemon would then fail to start
// and say so.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (d *Daemon) waitHealthy(ctx context.Context, timeout time.Duration) error {
	hc := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	for {
		res, err := hc.Get(d.URL + "/health")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-d.exited:
			return fmt.Errorf("bench: eventd exited before it was healthy: %v", d.waitErr)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("bench: eventd not healthy at %s/health after %s (last: %v)", d.URL, timeout, healthState(res, err))
		}
	}
}

func healthState(res *http.Response, err error) string {
	if err != nil {
		return err.Error()
	}
	return res.Status
}

// Stop sends SIGTERM, waits up to 30 s for the daemon to exit (then kills
// it), and removes the temporary directory. It returns the daemon's exit
// error, if any.
func (d *Daemon) Stop() error {
	var err error
	if d.cmd != nil && d.cmd.Process != nil {
		select {
		case <-d.exited:
		default:
			d.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-d.exited:
			case <-time.After(30 * time.Second):
				d.cmd.Process.Kill()
				<-d.exited
				err = errors.New("bench: eventd did not stop within 30s of SIGTERM; killed")
			}
		}
		if err == nil && d.waitErr != nil {
			err = fmt.Errorf("bench: eventd exited with %v\n%s", d.waitErr, d.LogTail(20))
		}
	}
	if d.logFile != nil {
		d.logFile.Close()
	}
	if d.Dir != "" {
		if rmErr := os.RemoveAll(d.Dir); rmErr != nil && err == nil {
			err = rmErr
		}
	}
	return err
}

// Exited is closed when the daemon process has exited.
func (d *Daemon) Exited() <-chan struct{} { return d.exited }

// LogTail returns the last n lines of the daemon's output.
func (d *Daemon) LogTail(n int) string {
	b, err := os.ReadFile(filepath.Join(d.Dir, "server.log"))
	if err != nil || len(b) == 0 {
		return "(no server output)"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "server output:\n  " + strings.Join(lines, "\n  ")
}
