package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestBenchBadFlagsExit2WithAMessage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--events", "100", "--duration", "1s"}, "exclusive"},
		{[]string{"--concurrency", "-1"}, "--concurrency"},
		{[]string{"--batch", "abc"}, "invalid value"},
		{[]string{"--size", "-5"}, "--size"},
		{[]string{"--duration", "0.5"}, "invalid value"},
		{[]string{"--url", "http://192.0.2.1:2113"}, "loopback"},
		{[]string{"--fsync", "sometimes"}, "--fsync"},
		{[]string{"--url", "http://127.0.0.1:1", "--fsync", "never"}, "drop --url"},
		{[]string{"--no-such-flag"}, "not defined"},
		{[]string{"extra"}, "unexpected argument"},
		{[]string{"--mode", "writes"}, "--mode must be one of"},
		{[]string{"--read", "--mode", "commands"}, "--read is --mode read"},
		{[]string{"--mode", "query", "--schema"}, "--schema applies only to --mode append"},
		{[]string{"--mode", "projection", "--batch", "10"}, "--batch applies only"},
	} {
		var stdout, stderr bytes.Buffer
		code := benchMain(tc.args, &stdout, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), tc.want) || stdout.Len() != 0 {
			t.Errorf("%v: exit %d, stderr %q; want 2 and a message with %q", tc.args, code, stderr.String(), tc.want)
		}
	}
}

func TestBenchHelpExits0(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := benchMain([]string{"--help"}, &stdout, &stderr); code != 0 || !strings.Contains(stderr.String(), "--concurrency") {
		t.Fatalf("exit %d, %q", code, stderr.String())
	}
}

func TestBenchServerArgs(t *testing.T) {
	var stderr bytes.Buffer
	f, err := parseBenchFlags([]string{"--fsync", "interval", "--fsync-interval", "5ms", "--server-arg=--max-body=64MiB"}, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(f.serverArgList(), " ")
	if got != "--fsync interval --fsync-interval 5ms --max-body=64MiB" {
		t.Fatalf("server args %q", got)
	}
}

// TestBenchStartsAndStopsItsOwnDaemon runs the real binary: `eventd bench`
// without --url starts `eventd serve` on a temporary directory, drives it,
// stops it and removes the directory.
func TestBenchStartsAndStopsItsOwnDaemon(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	bin := filepath.Join(t.TempDir(), "eventd")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out := filepath.Join(t.TempDir(), "report.json")
	cmd := exec.Command(bin, "bench", "--concurrency", "4", "--streams", "2", "--batch", "10", "--events", "2000", "--fsync", "never", "--json", "--out", out)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("eventd bench: %v\nstderr:\n%s", err, stderr.String())
	}
	var rep struct {
		Server string `json:"server"`
		Phases []struct {
			Name           string `json:"name"`
			Events, Errors int64
		} `json:"phases"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("stdout is not the JSON report: %v\n%s", err, stdout.String())
	}
	if len(rep.Phases) != 1 || rep.Phases[0].Events != 2000 || rep.Phases[0].Errors != 0 {
		t.Fatalf("report %+v", rep)
	}
	if b, err := os.ReadFile(out); err != nil || !bytes.Equal(b, stdout.Bytes()) {
		t.Fatalf("--out file differs from stdout: %v", err)
	}
	// the temporary data directory is gone (checked below); a CQRS mode
	// goes through the front end too
	cmd = exec.Command(bin, "bench", "--mode", "commands", "--concurrency", "4", "--events", "200", "--fsync", "never", "--json")
	var cqrsOut, cqrsErr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &cqrsOut, &cqrsErr
	if err := cmd.Run(); err != nil {
		t.Fatalf("eventd bench --mode commands: %v\nstderr:\n%s", err, cqrsErr.String())
	}
	var cqrs struct {
		Config struct {
			Mode string `json:"mode"`
		} `json:"config"`
		CommandsPerAppend float64 `json:"commandsPerAppend"`
		Phases            []struct {
			Name           string `json:"name"`
			Events, Errors int64
		} `json:"phases"`
	}
	if err := json.Unmarshal(cqrsOut.Bytes(), &cqrs); err != nil {
		t.Fatalf("stdout is not the JSON report: %v\n%s", err, cqrsOut.String())
	}
	if cqrs.Config.Mode != "commands" || len(cqrs.Phases) != 2 || cqrs.Phases[0].Name != "commands" || cqrs.Phases[0].Events != 200 ||
		cqrs.Phases[0].Errors != 0 || cqrs.Phases[1].Name != "append" || cqrs.Phases[1].Events != 200 || cqrs.CommandsPerAppend <= 0 {
		t.Fatalf("--mode commands report %+v", cqrs)
	}

	// The stub target and the fsync probe go through the front end too.
	for _, args := range [][]string{
		{"bench", "--target", "stub", "--concurrency", "2", "--events", "300", "--json"},
		{"bench", "--mode", "fsync", "--duration", "200ms", "--probe-dir", t.TempDir(), "--json"},
	} {
		var o, e bytes.Buffer
		cmd = exec.Command(bin, args...)
		cmd.Stdout, cmd.Stderr = &o, &e
		if err := cmd.Run(); err != nil {
			t.Fatalf("eventd %v: %v\nstderr:\n%s", args, err, e.String())
		}
		var r struct {
			Phases []struct {
				Name           string
				Events, Errors int64
			}
		}
		if err := json.Unmarshal(o.Bytes(), &r); err != nil || len(r.Phases) == 0 || r.Phases[0].Events == 0 || r.Phases[0].Errors != 0 {
			t.Fatalf("eventd %v: report %+v (%v)", args, r, err)
		}
	}

	// the temporary data directory is gone
	i := strings.Index(rep.Server, "--data-dir ")
	if i < 0 {
		t.Fatalf("server %q", rep.Server)
	}
	dir := strings.Fields(rep.Server[i+len("--data-dir "):])[0]
	if _, err := os.Stat(filepath.Dir(dir)); !os.IsNotExist(err) {
		t.Fatalf("temporary directory %s left behind (%v)", filepath.Dir(dir), err)
	}
}
