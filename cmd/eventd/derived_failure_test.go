package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	pvfs "github.com/cockroachdb/pebble/v2/vfs"

	"github.com/eventd/eventd/engine"
	"github.com/eventd/eventd/engine/derived/derivedtest"
	"github.com/eventd/eventd/engine/projection"
	"github.com/eventd/eventd/engine/snapshot"
	"github.com/eventd/eventd/server"
)

// When the derived-data store fails (its WAL cannot be written), the daemon
// goes on: /health says degraded with the reason and what to do, appends
// are taken, and the subsystems close without an error (the failure was
// reported when it happened).
func TestDerivedFailureInHealth(t *testing.T) {
	inj := &derivedtest.WAL{Errno: syscall.EIO}
	st, ss, api := failingDerived(t, inj)
	health := func() (int, map[string]any) {
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health", nil))
		var h map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &h); err != nil {
			t.Fatalf("/health: %v %s", err, rec.Body.Bytes())
		}
		return rec.Code, h
	}
	if code, h := health(); code != 200 || h["status"] != "healthy" {
		t.Fatalf("/health before: %d %v", code, h)
	}

	inj.On()
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; ss.db.Err() == nil; i++ { // the system projections flush what is appended
		if time.Now().After(deadline) {
			t.Fatal("the derived-data store did not fail 20 s after its WAL did")
		}
		if _, err := st.Append(context.Background(), "s-1", engine.Any, []engine.Proposed{{Type: "T", Data: []byte(`{"pad":"` + strings.Repeat("x", 512) + `"}`)}}); err != nil {
			t.Fatalf("append %d while the derived store fails: %v", i, err)
		}
		time.Sleep(time.Millisecond)
	}
	code, h := health()
	problems, _ := json.Marshal(h["problems"])
	if code != 503 || h["status"] != "degraded" || !strings.Contains(string(problems), "derived-data store failed") ||
		!strings.Contains(string(problems), "restart the daemon") {
		t.Fatalf("/health after the derived store failed: %d %v", code, h)
	}
	if _, err := st.Append(context.Background(), "s-1", engine.Any, []engine.Proposed{{Type: "T", Data: []byte(`{}`)}}); err != nil {
		t.Fatalf("append after the derived store failed: %v", err)
	}
	if err := ss.close(); err != nil {
		t.Fatalf("closing the subsystems: %v", err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
}

// On a full disk under the derived-data store, requests that would write
// to it answer 503 within moments instead of waiting for room, reads
// answer, /health says why; once there is room all of it works again.
func TestFullDerivedStoreAnswers(t *testing.T) {
	inj := &derivedtest.WAL{Errno: syscall.ENOSPC}
	st, ss, api := failingDerived(t, inj)
	if _, err := st.Append(context.Background(), "s-1", engine.Any, []engine.Proposed{{Type: "T", Data: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	call := func(method, path, body string) (int, string) {
		t.Helper()
		done := make(chan *httptest.ResponseRecorder, 1)
		go func() {
			rec := httptest.NewRecorder()
			api.ServeHTTP(rec, httptest.NewRequest(method, path, strings.NewReader(body)))
			done <- rec
		}()
		select {
		case rec := <-done:
			return rec.Code, rec.Body.String()
		case <-time.After(5 * time.Second):
			t.Fatalf("%s %s: no answer within 5 s (waiting for room: %v)", method, path, ss.db.Waiting())
			return 0, ""
		}
	}

	inj.On() // the first write to find the disk full is a request's
	if code, body := call("POST", "/api/snapshots", `{"streamId":"s-1"}`); code != 503 || !strings.Contains(body, "room") {
		t.Fatalf("POST /api/snapshots on a full disk: %d %s", code, body)
	}
	for _, r := range []struct{ method, path, body string }{
		{"POST", "/api/projections", `{"projectionId":"p1","name":"p1","kind":"count"}`},
		{"POST", "/api/projections/$by-category/reset", ``},
		{"POST", "/api/snapshots", `{"streamId":"s-1"}`},
	} {
		if code, body := call(r.method, r.path, r.body); code != 503 {
			t.Fatalf("%s %s on a full disk: %d %s", r.method, r.path, code, body)
		}
	}
	if code, body := call("GET", "/api/projections", ``); code != 200 || strings.Contains(body, `"p1"`) {
		t.Fatalf("GET /api/projections on a full disk: %d %s", code, body)
	}
	if code, body := call("GET", "/health", ``); code != 503 || !strings.Contains(body, "no room on the disk") {
		t.Fatalf("/health on a full disk: %d %s", code, body)
	}

	inj.Off()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if code, _ := call("GET", "/health", ``); code == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("/health not healthy 10 s after there was room")
		}
	}
	if code, body := call("POST", "/api/snapshots", `{"streamId":"s-1"}`); code != 201 {
		t.Fatalf("POST /api/snapshots with room again: %d %s", code, body)
	}
	if code, body := call("POST", "/api/projections", `{"projectionId":"p1","name":"p1","kind":"count"}`); code != 201 {
		t.Fatalf("POST /api/projections with room again: %d %s", code, body)
	}
	if err := errors.Join(ss.close(), st.Close()); err != nil {
		t.Fatal(err)
	}
}

// failingDerived opens a store, the subsystems with their derived store on
// inj (off until the test turns it on), and the API over them, as the
// daemon wires them.
func failingDerived(t *testing.T, inj *derivedtest.WAL) (*engine.Store, *subsystems, *server.Server) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "data")
	st, err := engine.Open(dir, engine.Options{Fsync: engine.FsyncNever, Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	ss, err := openSubsystemsTuned(st, dir, snapshot.Options{Every: -1, After: -1}, quietLog(), tuning{
		dbFS: inj.Wrap(pvfs.NewCrashableMem()), projections: projection.Options{FlushInterval: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	api := server.New(serverStore{st, ss.db}, server.Config{Logger: quietLog(), Projections: ss.projections,
		Snapshots: ss.snapshots, Reducers: ss.reducers, Schemas: ss.schemas, Commands: ss.commands, TotalCommands: ss.totalCommands})
	return st, ss, api
}
