package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestConnectionCap(t *testing.T) {
	for _, tc := range []struct {
		flag         int
		nofile       uint64
		segments     int
		want, reserv int
	}{
		{0, 20000, 3, 4096, 1027},    // a high limit: capped at 4096
		{0, 4096, 0, 3072, 1024},     // the limit less the store's reserve
		{0, 1024, 0, 512, 1024},      // a low limit: half of it
		{0, 1 << 62, 10, 4096, 1034}, // "unlimited"
		{0, 0, 0, 4096, 1024},        // unknown
		{100, 20000, 3, 100, 1027},   // the flag wins
	} {
		got, reserve := connectionCap(tc.flag, tc.nofile, tc.segments)
		if got != tc.want || reserve != tc.reserv {
			t.Errorf("connectionCap(%d, %d, %d) = %d, %d; want %d, %d", tc.flag, tc.nofile, tc.segments, got, reserve, tc.want, tc.reserv)
		}
	}
}

func TestRaiseFileLimit(t *testing.T) {
	limit, _, err := raiseFileLimit()
	if err != nil {
		t.Fatal(err)
	}
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	if uint64(rl.Cur) != limit || rl.Cur != rl.Max {
		t.Fatalf("RLIMIT_NOFILE %d/%d after raising, reported %d", rl.Cur, rl.Max, limit)
	}
}

func TestHardeningFlagsExit2(t *testing.T) {
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	if err := os.WriteFile(keys, []byte("k1 read\nk2 write\nk1 admin\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--max-connections", "-1"}, "--max-connections"},
		{[]string{"serve", "--sse-write-timeout", "0"}, "sse-write-timeout"},
		{[]string{"serve", "--sse-memory", "0"}, "sse-memory"},
		{[]string{"serve", "--data-dir", dir, "--access-log", filepath.Join(dir, "no", "such", "file")}, "--access-log"},
		{[]string{"serve", "--data-dir", dir, "--auth-keys", keys}, "line 3: the key of line 1 again"},
	} {
		var out, errb bytes.Buffer
		if code := run(tc.args, &out, &errb); code != 2 || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("eventd %s: exit %d, want 2 saying %q: %s", strings.Join(tc.args, " "), code, tc.want, errb.String())
		}
		if strings.Contains(errb.String(), "k1") {
			t.Errorf("the message names the key: %s", errb.String())
		}
	}
	var out, errb bytes.Buffer
	run([]string{"serve", "--help"}, &out, &errb)
	for _, f := range []string{"--max-connections", "--sse-write-timeout", "--sse-memory", "--access-log"} {
		if !strings.Contains(errb.String(), f) {
			t.Errorf("serve --help lacks %s", f)
		}
	}
}

// TestAccessLogFile: the daemon appends one line per request to
// --access-log FILE, with the route's pattern, not the path.
func TestAccessLogFile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	dir := t.TempDir()
	logPath := filepath.Join(dir, "access.log")
	d := startDaemon(t, filepath.Join(dir, "data"), "--access-log", logPath, "--max-connections", "64", "--sse-write-timeout", "5s", "--sse-memory", "64MiB")
	res, err := http.Get("http://" + d.addr + "/api/streams/secret-stream-1")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	d.stop(t)
	b, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	log := string(b)
	if !strings.Contains(log, "method=GET route=/api/streams/:streamId status=404") || strings.Contains(log, "secret-stream-1") {
		t.Fatalf("access log:\n%s", log)
	}
	if !strings.Contains(log, "route=/health status=200") {
		t.Fatalf("access log lacks the health checks:\n%s", log)
	}
}
