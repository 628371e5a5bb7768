package bench

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func newFlagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func parse(args ...string) (Config, error) {
	var c Config
	fs := newFlagSet()
	c.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	return c, c.Validate()
}

func TestConfigDefaults(t *testing.T) {
	c, err := parse()
	if err != nil {
		t.Fatal(err)
	}
	if c.Duration != DefaultDuration || c.Events != 0 || c.Concurrency != DefaultConcurrency || c.Batch != 1 || c.Size != 200 || c.Client != "raw" {
		t.Fatalf("defaults %+v", c)
	}
	c, err = parse("--events", "1000", "--url", "http://127.0.0.1:2113")
	if err != nil || c.Duration != 0 || c.Events != 1000 {
		t.Fatalf("--events: %+v %v", c, err)
	}
	for _, u := range []string{"http://localhost:1", "http://[::1]:80/", "http://127.0.0.2:9"} {
		if _, err := parse("--url", u); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
}

func TestConfigRejects(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--events", "10", "--duration", "1s"}, "exclusive"},
		{[]string{"--duration", "-1s"}, "--duration"},
		{[]string{"--duration", "48h"}, "--duration"},
		{[]string{"--events", "-3"}, "--events"},
		{[]string{"--concurrency", "0"}, "--concurrency"},
		{[]string{"--batch", "0"}, "--batch"},
		{[]string{"--batch", "10001"}, "--batch"},
		{[]string{"--size", "-1"}, "--size"},
		{[]string{"--size", "2000000"}, "--size"},
		{[]string{"--streams", "0"}, "--streams"},
		{[]string{"--limit", "0"}, "--limit"},
		{[]string{"--seed", "-1"}, "--seed"},
		{[]string{"--client", "curl"}, "--client"},
		{[]string{"--run-id", "a b"}, "--run-id"},
		{[]string{"--max-duration", "0s"}, "--max-duration"},
		{[]string{"--url", "http://10.0.0.1:2113"}, "loopback"},
		{[]string{"--url", "http://example.com"}, "loopback"},
		{[]string{"--url", "https://127.0.0.1:1"}, "scheme"},
		{[]string{"--url", "http://127.0.0.1:1/api"}, "bare"},
		{[]string{"--batch", "10000", "--size", "1000000"}, "bodies"},
		{[]string{"--concurrency", "x"}, "invalid value"},
	} {
		_, err := parse(tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want it to mention %q", tc.args, err, tc.want)
		}
	}
}

func TestConfigDurationDefaultOnlyWithoutEvents(t *testing.T) {
	c, err := parse("--duration", "2s")
	if err != nil || c.Duration != 2*time.Second {
		t.Fatal(c, err)
	}
}

func TestConfigModes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		mode string
		read bool
	}{
		{nil, ModeAppend, false},
		{[]string{"--read"}, ModeRead, true},
		{[]string{"--mode", "read"}, ModeRead, true},
		{[]string{"--read", "--mode", "read"}, ModeRead, true},
		{[]string{"--mode", "commands"}, ModeCommands, false},
		{[]string{"--mode", "projection", "--projection-state"}, ModeProjection, false},
		{[]string{"--mode", "ryw", "--ryw-command"}, ModeRYW, false},
		{[]string{"--mode", "query", "--keys", "5", "--where-items", "0"}, ModeQuery, false},
		{[]string{"--schema", "--batch", "10"}, ModeAppend, false},
	} {
		c, err := parse(tc.args...)
		if err != nil || c.Mode != tc.mode || c.Read != tc.read {
			t.Errorf("%v: mode %q read %v, %v", tc.args, c.Mode, c.Read, err)
		}
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--mode", "write"}, "--mode must be one of"},
		{[]string{"--read", "--mode", "query"}, "--read is --mode read"},
		{[]string{"--mode", "commands", "--schema"}, "--schema applies only to --mode append"},
		{[]string{"--read", "--schema-fields"}, "--schema-fields applies only"},
		{[]string{"--projection-state"}, "--projection-state applies only"},
		{[]string{"--mode", "query", "--ryw-command"}, "--ryw-command applies only"},
		{[]string{"--mode", "ryw", "--batch", "5"}, "--batch applies only"},
		{[]string{"--mode", "query", "--keys", "0"}, "--keys"},
		{[]string{"--mode", "query", "--where-items", "-1"}, "--where-items"},
		{[]string{"--mode", "query", "--concurrency", "4", "--where-concurrency", "5"}, "--where-concurrency"},
		{[]string{"--lag-interval", "-1ms"}, "--lag-interval"},
	} {
		_, err := parse(tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want it to mention %q", tc.args, err, tc.want)
		}
	}
}
