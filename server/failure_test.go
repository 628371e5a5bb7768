package server

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/eventd/eventd/engine"
	"github.com/eventd/eventd/segment/vfs"
)

// A failed fsync is sticky: appends answer 503 unavailable from then on,
// /health answers 503 "unhealthy" naming the failure, reads go on.
func TestStickyStorageFailure(t *testing.T) {
	fs := vfs.NewFault(vfs.NewMem())
	e := newEnvOn(t, Config{}, "/data", engine.Options{FS: fs, Fsync: engine.FsyncAlways})
	e.add("acct-1", "Opened", M{"n": 1})
	fs.FailSyncAt(fs.Syncs()) // the next fsync fails, and every later one
	e.post("/api/events", M{"streamId": "acct-1", "eventType": "Deposited", "eventData": M{}}).fail(t, 503, "unavailable")
	e.post("/api/streams/acct-2/events", M{"events": []M{{"eventType": "Opened", "eventData": M{}}}}).fail(t, 503, "unavailable")
	h := e.get("/health")
	if h.status != 503 || h.v["status"] != "unhealthy" {
		t.Fatalf("/health after a failed fsync: %d %s", h.status, h.body)
	}
	if p := arr(t, h.v["problems"]); len(p) == 0 || !strings.Contains(p[0].(string), "fsync") {
		t.Fatalf("/health problems do not name the failure: %s", h.body)
	}
	if num(t, h.v["totalEvents"]) != 1 {
		t.Fatalf("the failed append was counted: %s", h.body)
	}
	evs := arr(t, e.get("/api/events/acct-1").ok(t, 200)["events"])
	if len(evs) != 1 {
		t.Fatalf("read after the failure: %d events, want the acknowledged 1", len(evs))
	}
}

// Corruption found after start turns /health "degraded" (503) with file
// and offset; a read over the damaged event answers 503 and returns
// nothing wrong; other reads and appends go on.
func TestDegradedOnCorruption(t *testing.T) {
	dir := t.TempDir()
	opts := engine.Options{Fsync: engine.FsyncNever, SegmentSize: 16 << 10}
	st, err := engine.Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 300; i++ {
		data := []byte(`{"marker":"m-` + strings.Repeat("x", 40) + `-` + string(rune('a'+i%26)) + `"}`)
		if i == 20 {
			data = []byte(`{"marker":"DAMAGE-ME-PLEASE"}`)
		}
		if _, err := st.Append(t.Context(), "s-1", engine.Any, []engine.Proposed{{Type: "T", Data: data}}); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	segs, _ := filepath.Glob(filepath.Join(dir, "log", "*.seg"))
	sort.Strings(segs)
	// The marker is in an early, sealed segment: the first, or the second
	// when the log moved early into a zero-filled one.
	var b []byte
	var seg, i int
	for seg = 0; seg < len(segs)-1; seg++ {
		if b, err = os.ReadFile(segs[seg]); err != nil {
			t.Fatal(err)
		}
		if i = bytes.Index(b, []byte("DAMAGE-ME-PLEASE")); i >= 0 {
			break
		}
	}
	if i < 0 || seg >= len(segs)-1 {
		t.Fatalf("marker not in a sealed segment of %d", len(segs))
	}
	b[i] = 'X'
	if err := os.WriteFile(segs[seg], b, 0o644); err != nil {
		t.Fatal(err)
	}

	e := newEnvOn(t, Config{}, dir, opts)
	deadline := time.Now().Add(5 * time.Second)
	h := e.get("/health")
	for h.status == 200 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		h = e.get("/health")
	}
	if h.status != 503 || h.v["status"] != "degraded" {
		t.Fatalf("/health after the scrub: %d %s", h.status, h.body)
	}
	if p := arr(t, h.v["problems"]); len(p) == 0 || !strings.Contains(p[0].(string), filepath.Base(segs[seg])) {
		t.Fatalf("problems do not name the file: %s", h.body)
	}
	r := e.get("/api/events/s-1?limit=100")
	r.fail(t, 503, "unavailable")
	if bytes.Contains(r.body, []byte("DAMAGE")) || bytes.Contains(r.body, []byte("XAMAGE")) {
		t.Fatalf("damaged data returned: %s", r.body)
	}
	if evs := arr(t, e.get("/api/events/s-1/250").ok(t, 200)["events"]); len(evs) != 50 {
		t.Fatalf("reading past the damage: %d events", len(evs))
	}
	e.add("s-2", "T", M{})
}
