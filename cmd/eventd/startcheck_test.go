package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestFlagsCheckedBeforeTheDisk: a bad or busy --listen (or --pprof), a
// bad --cors-origins, an unreadable TLS pair and a --max-batch-events
// below its minimum stop the start with exit 2 and the reason, and no data
// dir is created.
func TestFlagsCheckedBeforeTheDisk(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	inUse := busy.Addr().String()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--listen", "nonsense"}, "--listen"},
		{[]string{"--listen", "127.0.0.1:99999"}, "--listen"},
		{[]string{"--listen", inUse}, "address already in use"},
		{[]string{"--listen", "127.0.0.1:0", "--pprof", inUse}, "--pprof"},
		{[]string{"--listen", "127.0.0.1:0", "--cors-origins", "app.example"}, "--cors-origins"},
		{[]string{"--listen", "127.0.0.1:0", "--tls-cert", "/nonexistent/c.pem", "--tls-key", "/nonexistent/k.pem"}, "--tls-cert"},
		{[]string{"--listen", "127.0.0.1:0", "--max-batch-events", "0"}, "--max-batch-events"},
	} {
		dir := filepath.Join(t.TempDir(), "data")
		// A regression that starts the daemon must fail the test, not hang it.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, binary(t), append([]string{"serve", "--data-dir", dir}, c.args...)...)
		cmd.WaitDelay = 5 * time.Second
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		cancel()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("eventd serve %s: %v, stderr %q; want exit 2 naming %q", strings.Join(c.args, " "), err, stderr.String(), c.want)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("eventd serve %s: the data dir was created (%v)", strings.Join(c.args, " "), err)
		}
	}
}

// TestMaxBatchEventsMinimum: the minimum --help states is the one the
// check enforces, README states it too, and a daemon at the minimum takes
// an append larger than a batch.
func TestMaxBatchEventsMinimum(t *testing.T) {
	var sf storeFlags
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	sf.register(fs)
	usage := fs.Lookup("max-batch-events").Usage
	m := regexp.MustCompile(`≥ (\d+)`).FindStringSubmatch(usage)
	if m == nil {
		t.Fatalf("--max-batch-events help states no minimum: %q", usage)
	}
	minimum, _ := strconv.Atoi(m[1])
	for n, ok := range map[int]bool{minimum - 1: false, minimum: true} {
		sf.maxBatchEvents = n
		if err := sf.check(); (err == nil) != ok {
			t.Errorf("--max-batch-events %d: check says %v", n, err)
		} else if err != nil && !strings.Contains(err.Error(), "≥ "+m[1]) {
			t.Errorf("--max-batch-events %d: the message %q does not state ≥ %s", n, err, m[1])
		}
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `--max-batch-events`.*$").Find(readme)
	if !bytes.Contains(row, []byte("≥ "+m[1])) {
		t.Errorf("README's --max-batch-events row does not state ≥ %s: %s", m[1], row)
	}
	if testing.Short() {
		return
	}
	d := startDaemon(t, filepath.Join(t.TempDir(), "data"), "--max-batch-events", m[1])
	base := "http://" + d.addr
	post(t, base+"/api/streams/mb-1/events", `{"events":[{"eventType":"A","eventData":{}},{"eventType":"B","eventData":{}},{"eventType":"C","eventData":{}}]}`)
	post(t, base+"/api/events", `{"streamId":"mb-1","eventType":"D","eventData":{}}`)
	d.stop(t)
}
