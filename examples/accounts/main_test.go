package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The example runs against a real daemon, twice (the setup is
// idempotent), and every balance it prints is the one its commands made.
func TestAccountsExample(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "eventd")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/eventd").CombinedOutput(); err != nil {
		t.Fatalf("building the daemon: %v\n%s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	d := exec.Command(bin, "serve", "--data-dir", filepath.Join(dir, "data"), "--listen", addr, "--fsync", "never")
	var logs bytes.Buffer
	d.Stdout, d.Stderr = &logs, &logs
	if err := d.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = d.Process.Kill(); _ = d.Wait() }()
	url := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		if res, err := http.Get(url + "/health"); err == nil && res.StatusCode == 200 {
			res.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the daemon did not start:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, account := range []string{"acct-a", "acct-b"} {
		var out bytes.Buffer
		if err := run(ctx, url, "", account, &out); err != nil {
			t.Fatalf("run %d: %v\n%s", i, err, out.String())
		}
		for _, want := range []string{"balance 0", "balance 100", "balance 70", "balance 75", "refused"} {
			if !strings.Contains(out.String(), want) {
				t.Fatalf("run %d: output lacks %q:\n%s", i, want, out.String())
			}
		}
	}
}
