package main

import (
	"context"
	"encoding/json"
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
	dir := filepath.Join(t.TempDir(), "data")
	st, err := engine.Open(dir, engine.Options{Fsync: engine.FsyncNever, Logger: quietLog()})
	if err != nil {
		t.Fatal(err)
	}
	inj := &derivedtest.WAL{Errno: syscall.EIO}
	ss, err := openSubsystemsTuned(st, dir, snapshot.Options{Every: -1, After: -1}, quietLog(), tuning{
		dbFS: inj.Wrap(pvfs.NewCrashableMem()), projections: projection.Options{FlushInterval: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	api := server.New(serverStore{st, ss.db}, server.Config{Logger: quietLog()})
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
