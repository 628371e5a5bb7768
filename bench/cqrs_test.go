package bench

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// The CQRS modes run against the real daemon: the eventd binary, built
// once per test run (go build eventd/cmd/eventd), started by StartDaemon
// on a temporary directory with --fsync never. Each test runs its mode for
// well under a second a phase.

var eventdBin struct {
	once sync.Once
	dir  string
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if eventdBin.dir != "" {
		os.RemoveAll(eventdBin.dir)
	}
	os.Exit(code)
}

// startEventd starts a fresh daemon for the test and returns its URL.
func startEventd(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the eventd binary")
	}
	eventdBin.once.Do(func() {
		goTool, err := exec.LookPath("go")
		if err != nil {
			eventdBin.err = err
			return
		}
		if eventdBin.dir, eventdBin.err = os.MkdirTemp("", "eventd-bench-bin-"); eventdBin.err != nil {
			return
		}
		eventdBin.path = filepath.Join(eventdBin.dir, "eventd")
		out, err := exec.Command(goTool, "build", "-o", eventdBin.path, "github.com/eventd/eventd/cmd/eventd").CombinedOutput()
		if err != nil {
			eventdBin.err = err
			eventdBin.path = string(out)
		}
	})
	if eventdBin.err != nil {
		t.Fatalf("building eventd: %v\n%s", eventdBin.err, eventdBin.path)
	}
	d, err := StartDaemon(context.Background(), eventdBin.path, []string{"--fsync", "never"}, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Stop(); err != nil {
			t.Error(err)
		}
	})
	return d.URL
}

// httpDo sends a request to the daemon under test.
func httpDo(t *testing.T, method, url, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, b
}

func phaseNames(rep *Report) []string {
	var names []string
	for _, p := range rep.Phases {
		names = append(names, p.Name)
	}
	return names
}

func wantPhases(t *testing.T, rep *Report, want ...string) {
	t.Helper()
	if got := phaseNames(rep); !slices.Equal(got, want) {
		t.Fatalf("phases %v, want %v", got, want)
	}
}

func TestModeCommands(t *testing.T) {
	url := startEventd(t)
	c := testConfig(url)
	c.Mode, c.Concurrency, c.Events = ModeCommands, 4, 300
	rep := mustRun(t, c)
	wantPhases(t, rep, "commands", "append")
	for _, p := range rep.Phases {
		if p.Events != 300 || p.Requests != 300 || p.Errors != 0 || p.hist.Count() != 300 || p.LatencyMs.P50 <= 0 {
			t.Fatalf("phase %+v", p)
		}
	}
	if rep.CommandsPerAppend <= 0 {
		t.Fatalf("commandsPerAppend %v", rep.CommandsPerAppend)
	}
	// the daemon ran exactly the 300 commands, each creating its own user
	var h struct {
		TotalCommands uint64 `json:"totalCommands"`
	}
	_, b := httpDo(t, "GET", url+"/health", "")
	if err := json.Unmarshal(b, &h); err != nil || h.TotalCommands != 300 {
		t.Fatalf("health %s (%v)", b, err)
	}
	var list struct {
		Data struct {
			Streams []struct {
				StreamID       string `json:"streamId"`
				CurrentVersion uint64 `json:"currentVersion"`
			} `json:"streams"`
		} `json:"data"`
	}
	_, b = httpDo(t, "GET", url+"/api/streams?prefix=bench-t1-w&limit=1000", "")
	if err := json.Unmarshal(b, &list); err != nil {
		t.Fatal(err)
	}
	users := 0
	for _, s := range list.Data.Streams {
		if !strings.Contains(s.StreamID, "-s") {
			users++
			if s.CurrentVersion != 1 {
				t.Fatalf("user %s at version %d", s.StreamID, s.CurrentVersion)
			}
		}
	}
	if users != 300 {
		t.Fatalf("%d users, want 300", users)
	}
	if status, b := httpDo(t, "GET", url+"/api/events/bench-t1-w0-1", ""); status != 200 || !strings.Contains(string(b), `"eventType":"UserCreated"`) {
		t.Fatalf("user bench-t1-w0-1: %d %s", status, b)
	}
	var sb strings.Builder
	rep.WriteTable(&sb)
	if !strings.Contains(sb.String(), "commands/s ÷ appends/s = ") {
		t.Fatalf("table has no ratio:\n%s", sb.String())
	}
}

func TestModeAppendSchema(t *testing.T) {
	url := startEventd(t)
	for _, schema := range []bool{true, false} {
		c := testConfig(url)
		c.RunID = "schema0"
		if schema {
			c.RunID = "schema1"
		}
		c.Schema, c.SchemaFields, c.Concurrency, c.Events = schema, !schema, 4, 400
		rep := mustRun(t, c)
		p := rep.Phases[0]
		if p.Events != 400 || p.Errors != 0 {
			t.Fatalf("schema %v: phase %+v", schema, p)
		}
		typ := "BenchTyped-" + c.RunID
		if rep.EventType != typ {
			t.Fatalf("event type %q", rep.EventType)
		}
		// the events stored carry the 10 fields
		status, b := httpDo(t, "GET", url+"/api/events/bench-"+c.RunID+"-w0-s0?limit=1", "")
		var page struct {
			Data struct {
				Events []struct {
					EventType string                     `json:"eventType"`
					EventData map[string]json.RawMessage `json:"eventData"`
				} `json:"events"`
			} `json:"data"`
		}
		if err := json.Unmarshal(b, &page); err != nil || status != 200 || len(page.Data.Events) != 1 ||
			page.Data.Events[0].EventType != typ || len(page.Data.Events[0].EventData) != 10 {
			t.Fatalf("schema %v: stored event %d %s (%v)", schema, status, b, err)
		}
		// with --schema the type has the schema, and it is enforced: the
		// 400 appends passed it; without, the type has none
		status, b = httpDo(t, "GET", url+"/api/schemas/"+typ, "")
		if schema != (status == 200) {
			t.Fatalf("schema %v: GET schema: %d %s", schema, status, b)
		}
		status, b = httpDo(t, "POST", url+"/api/events", `{"streamId":"other","eventType":"`+typ+`","eventData":{"pad":"x"}}`)
		if want := map[bool]int{true: 422, false: 201}[schema]; status != want {
			t.Fatalf("schema %v: a pad-only event: %d %s, want %d", schema, status, b, want)
		}
	}
}

func TestModeProjection(t *testing.T) {
	url := startEventd(t)
	c := testConfig(url)
	c.Mode, c.Seed, c.ProjectionState, c.Concurrency, c.Duration = ModeProjection, 3000, true, 4, 700*time.Millisecond
	rep := mustRun(t, c)
	wantPhases(t, rep, "seed", "catchup-count", "catchup-state", "live-append", "lag-count", "lag-state")
	for _, p := range rep.Phases {
		if p.Errors != 0 {
			t.Fatalf("phase %+v", p)
		}
		switch {
		case strings.HasPrefix(p.Name, "catchup-"):
			if p.Events < 3000 || p.LastProcessedPosition != p.HeadPosition || p.hist.Count() != 1 || p.EventsPerSec <= 0 {
				t.Fatalf("phase %+v", p)
			}
		case strings.HasPrefix(p.Name, "lag-"):
			// samples were taken, each one reached its position, and the
			// projection caught up with the head the load left
			if p.Requests < 5 || p.hist.Count() != uint64(p.Requests) || p.LatencyMs.P50 <= 0 ||
				p.HeadPosition == 0 || p.LastProcessedPosition < p.HeadPosition || p.SubLatencyMs["query-rtt"].P50 <= 0 {
				t.Fatalf("phase %+v", p)
			}
		case p.Name == "live-append":
			if p.Events == 0 {
				t.Fatalf("phase %+v", p)
			}
		}
	}
	// the run deleted its projections
	for _, kind := range []string{"count", "state"} {
		if status, b := httpDo(t, "GET", url+"/api/projections/bench-t1-"+kind, ""); status != 404 {
			t.Fatalf("projection %s after the run: %d %s", kind, status, b)
		}
	}
}

func TestModeRYW(t *testing.T) {
	url := startEventd(t)
	for _, command := range []bool{false, true} {
		c := testConfig(url)
		c.RunID = map[bool]string{false: "ryw0", true: "ryw1"}[command]
		c.Mode, c.RYWCommand, c.Concurrency, c.Events = ModeRYW, command, 4, 300
		rep := mustRun(t, c)
		wantPhases(t, rep, "ryw")
		p := rep.Phases[0]
		// every pair: a 201, then a 200 with the value at the write's position
		if p.Events != 300 || p.Requests != 300 || p.Errors != 0 || p.hist.Count() != 300 {
			t.Fatalf("command %v: phase %+v", command, p)
		}
		w, q := p.SubLatencyMs["write"], p.SubLatencyMs["query"]
		if w.P50 <= 0 || q.P50 <= 0 || p.LatencyMs.Max < w.Max || p.LatencyMs.Max < q.Max {
			t.Fatalf("command %v: latencies %+v %+v %+v", command, p.LatencyMs, w, q)
		}
	}
}

func TestModeQuery(t *testing.T) {
	url := startEventd(t)
	c := testConfig(url)
	c.Mode, c.Keys, c.WhereItems, c.Concurrency, c.WhereConcurrency, c.Duration = ModeQuery, 500, 2000, 4, 2, 400*time.Millisecond
	rep := mustRun(t, c)
	wantPhases(t, rep, "seed-keys", "query", "seed-where", "where")
	for _, p := range rep.Phases {
		if p.Errors != 0 || p.Events == 0 {
			t.Fatalf("phase %+v", p)
		}
	}
	if p := rep.Phases[0]; p.Events != 500 || p.LastProcessedPosition < p.HeadPosition {
		t.Fatalf("seed-keys %+v", p)
	}
	if p := rep.Phases[2]; p.Events != 2000 || p.LastProcessedPosition < p.HeadPosition {
		t.Fatalf("seed-where %+v", p)
	}
	if p := rep.Phases[1]; p.Events != p.Requests || p.hist.Count() != uint64(p.Requests) {
		t.Fatalf("query %+v", p)
	}
	// every where query returned exactly its group: 2000 / 10 items
	if p := rep.Phases[3]; p.Requests == 0 || p.Events != 200*p.Requests {
		t.Fatalf("where %+v", p)
	}
}
