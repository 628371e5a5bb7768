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
