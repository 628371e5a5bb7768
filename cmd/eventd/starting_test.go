package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestServesWhileStarting: between binding --listen and having the store
// open, the daemon answers 503 "starting" with Retry-After (the start is
// held by the test hook), then the API.
func TestServesWhileStarting(t *testing.T) {
	gate := filepath.Join(t.TempDir(), "gate")
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("EVENTD_TESTHOOK_START_GATE", gate)
	pprofAddr := freeAddr(t)
	cmd, addr, out := spawn(t, t.TempDir(), []string{"--pprof", pprofAddr})
	d := &daemon{cmd: cmd, addr: addr, out: &out.Buffer, done: make(chan error, 1)}
	go func() { d.done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	hc := &http.Client{Timeout: 5 * time.Second}

	get := func(method, path string) (*http.Response, []byte, error) {
		req, _ := http.NewRequest(method, "http://"+addr+path, nil)
		res, err := hc.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		return res, b, err
	}
	// The first answer (the daemon binds, then serves at once).
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, _, err := get("GET", "/health"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answer within 15 s\n%s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	res, b, err := get("GET", "/health")
	var h struct{ Status string }
	if err != nil || res.StatusCode != 503 || json.Unmarshal(b, &h) != nil || h.Status != "starting" || res.Header.Get("Retry-After") != "1" {
		t.Fatalf("/health while starting: %v %v %s", err, res, b)
	}
	for _, m := range []string{"GET", "POST", "HEAD", "OPTIONS"} {
		res, b, err := get(m, "/api/streams")
		if err != nil || res.StatusCode != 503 || res.Header.Get("Retry-After") != "1" {
			t.Fatalf("%s while starting: %v %v %s", m, err, res, b)
		}
		if m != "HEAD" {
			var e struct{ Error, Code string }
			if json.Unmarshal(b, &e) != nil || e.Code != "unavailable" || e.Error != "starting" {
				t.Fatalf("%s while starting: %s", m, b)
			}
		}
	}
	// pprof serves already.
	if res, err := hc.Get("http://" + pprofAddr + "/debug/pprof/cmdline"); err != nil || res.StatusCode != 200 {
		t.Fatalf("pprof while starting: %v %v", err, res)
	} else {
		res.Body.Close()
	}

	// Release the start: the API answers.
	if err := os.Remove(gate); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(15 * time.Second)
	for {
		res, _, err := get("GET", "/health")
		if err == nil && res.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not healthy within 15 s after the gate opened: %v %v\n%s", err, res, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if res, b, err := get("GET", "/api/streams"); err != nil || res.StatusCode != 200 {
		t.Fatalf("after the start: %v %v %s", err, res, b)
	}
	d.stop(t)
}
