package projection

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eventd/eventd/engine"
	"github.com/eventd/eventd/engine/derived"
	"github.com/eventd/eventd/engine/reducer"
)

type pebbleDB = derived.DB

var crashRounds = flag.Int("projection-crash-rounds", 8, "rounds of TestCrashKill (SIGKILL under load, restart, recount)")

const crashChildEnv = "EVENTD_PROJECTION_CRASH_CHILD"

// The projections of the crash test, created by the parent before the
// first round. Every one must end equal to a recount of the log.
var crashDefs = []Definition{
	{ID: "cnt", Name: "every user event", Kind: KindCount},
	{ID: "cnt-ab", Name: "A and B of c1 streams", Kind: KindCount, EventTypes: []string{"A", "B"}, StreamPrefix: "c1"},
	{ID: "st", Name: "events per stream", Kind: KindState, Reducer: "counter"},
	{ID: "kb", Name: "events per k", Kind: KindState, Reducer: "counter", KeyBy: "eventData.k"},
}

// crashOptions flush often and keep few entries in memory, so that kills
// land in every phase: building, encoding, committing, evicting, reloading.
func crashOptions() Options {
	return Options{Logger: quiet(), FlushEvents: 50 + rand.IntN(400), FlushInterval: time.Duration(1+rand.IntN(20)) * time.Millisecond, CacheEntries: 8}
}

func openCrashStore(dir string) (*engine.Store, *pebbleDB, error) {
	st, err := engine.Open(filepath.Join(dir, "store"), engine.Options{Fsync: engine.FsyncNever, Logger: quiet()})
	if err != nil {
		return nil, nil, err
	}
	db, err := derived.Open(filepath.Join(dir, "projections"), nil, quiet())
	if err != nil {
		_ = st.Close()
		return nil, nil, err
	}
	return st, db, nil
}

// crashChild opens the store and the projections and appends from several
// goroutines, now and then resetting, pausing and resuming a projection,
// until it is killed. It prints "ready" once the manager is open.
func crashChild(dir string) {
	st, db, err := openCrashStore(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(3)
	}
	m, err := Open(db, st, newRegistry(), crashOptions())
	if err != nil {
		fmt.Fprintln(os.Stderr, "open projections:", err)
		os.Exit(3)
	}
	fmt.Println("ready")
	for w := range 4 {
		go func() {
			for i := 0; ; i++ {
				evs := make([]engine.Proposed, 1+rand.IntN(3))
				for k := range evs {
					data := fmt.Sprintf(`{"k":"k%d","pad":"%s"}`, rand.IntN(10), strings.Repeat("x", rand.IntN(100)))
					evs[k] = engine.Proposed{Type: string(rune('A' + rand.IntN(3))), Data: []byte(data)}
				}
				if _, err := st.Append(context.Background(), fmt.Sprintf("c%d-%d", w, i%7), engine.Any, evs); err != nil {
					fmt.Fprintln(os.Stderr, "append:", err)
					os.Exit(4)
				}
			}
		}()
	}
	ctx := context.Background()
	for {
		time.Sleep(time.Duration(50+rand.IntN(200)) * time.Millisecond)
		id := crashDefs[rand.IntN(len(crashDefs))].ID
		var err error
		switch rand.IntN(4) {
		case 0:
			_, err = m.Reset(ctx, id)
		case 1:
			_, err = m.Reset(ctx, []string{ByEventType, ByCategory, StreamStats}[rand.IntN(3)])
		case 2:
			if _, err = m.Pause(ctx, id); err == nil {
				time.Sleep(time.Duration(rand.IntN(50)) * time.Millisecond)
				_, err = m.Resume(ctx, id)
			}
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "admin:", err)
			os.Exit(5)
		}
	}
}

// TestCrashKill runs a child that appends under load while its projections
// run, kills it with SIGKILL at a random moment, restarts the projections
// in this process, lets them catch up and checks every one against a
// recount of the log: no event counted twice, none skipped.
func TestCrashKill(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes; run without -short")
	}
	dir := t.TempDir()
	func() { // define the projections
		st, db, err := openCrashStore(dir)
		if err != nil {
			t.Fatal(err)
		}
		m, err := Open(db, st, newRegistry(), crashOptions())
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range crashDefs {
			if _, _, err := m.Create(context.Background(), d); err != nil {
				t.Fatal(err)
			}
		}
		closeAll(t, m, db, st)
	}()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for round := range *crashRounds {
		cmd := exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		ready := make(chan bool, 1)
		go func() {
			sc := bufio.NewScanner(stdout)
			ready <- sc.Scan() && sc.Text() == "ready"
			for sc.Scan() {
			}
		}()
		select {
		case ok := <-ready:
			if !ok {
				_ = cmd.Wait()
				t.Fatalf("round %d: the child did not start: %s", round, stderr.String())
			}
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatalf("round %d: the child did not start within 20 s: %s", round, stderr.String())
		}
		time.Sleep(time.Duration(100+rand.IntN(700)) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		err = cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("round %d: the child ended by itself (%v): %s", round, err, stderr.String())
		}
		head := checkAfterCrash(t, dir)
		t.Logf("round %d: %d events, all projections match a recount", round, head)
	}
}

// checkAfterCrash reopens the store and the projections, resumes any left
// paused, waits for every one to reach the head and compares each with a
// recount of the log.
func checkAfterCrash(t *testing.T, dir string) uint64 {
	t.Helper()
	st, db, err := openCrashStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Open(db, st, newRegistry(), crashOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer closeAll(t, m, db, st)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	head := st.Head()
	list, err := m.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != len(crashDefs)+3 {
		t.Fatalf("%d projections after the crash, want %d", len(list), len(crashDefs)+3)
	}
	for _, in := range list {
		if in.Status == StatusPaused { // killed between a pause and its resume
			if _, err := m.Resume(ctx, in.ID); err != nil {
				t.Fatal(err)
			}
		}
		if err := m.Wait(ctx, in.ID, head); err != nil {
			t.Fatalf("%s did not catch up to %d: %v (%+v)", in.ID, head, err, in)
		}
	}
	want := recount(t, st)
	for id, w := range want {
		got := entries(t, m, id)
		if fmt.Sprint(got) != fmt.Sprint(w) {
			t.Fatalf("projection %s after the crash:\n got %v\nwant %v", id, got, w)
		}
	}
	return head
}

// recount computes from the log what each projection must hold, as
// key → value rendered by entries (and "$total" for count projections).
func recount(t *testing.T, st *engine.Store) map[string]map[string]string {
	t.Helper()
	type stats struct{ version, events, first, last uint64 }
	byType, cnt, cntAB := map[string]int{}, map[string]int{}, map[string]int{}
	cat, catStreams := map[string]int{}, map[string]int{}
	streams, perK := map[string]*stats{}, map[string]int{}
	var from uint64
	for {
		n := 0
		next, _, err := st.ReadAllFunc(from, engine.Forward, 10000, engine.Filter{}, func(e *engine.Event) error {
			n++
			from = e.Position
			// The event aliases the read buffer: keys must be copies.
			typ, stream := strings.Clone(e.Type), strings.Clone(e.StreamID)
			byType[typ]++
			c := reducer.Category(stream)
			cat[c]++
			if e.Version == 1 {
				catStreams[c]++
			}
			s := streams[stream]
			if s == nil {
				s = &stats{first: e.Position}
				streams[stream] = s
			}
			s.version, s.last = e.Version, e.Position
			s.events++
			if engine.IsSystemStream(e.StreamID) {
				return nil
			}
			cnt[typ]++
			if strings.HasPrefix(stream, "c1") && (typ == "A" || typ == "B") {
				cntAB[typ]++
			}
			var d struct{ K string }
			if json.Unmarshal(e.Data, &d) == nil && d.K != "" {
				perK[d.K]++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 && next == 0 {
			break
		}
	}
	out := map[string]map[string]string{ByEventType: {}, ByCategory: {}, StreamStats: {}, "cnt": {}, "cnt-ab": {}, "st": {}, "kb": {}}
	total := func(m map[string]int) string {
		n := 0
		for _, v := range m {
			n += v
		}
		return fmt.Sprint(n)
	}
	for k, v := range byType {
		out[ByEventType][k] = fmt.Sprintf("count=%d", v)
	}
	for k, v := range cnt {
		out["cnt"][k] = fmt.Sprintf("count=%d", v)
	}
	for k, v := range cntAB {
		out["cnt-ab"][k] = fmt.Sprintf("count=%d", v)
	}
	for k, v := range cat {
		out[ByCategory][k] = fmt.Sprintf("events=%d streams=%d", v, catStreams[k])
	}
	for k, s := range streams {
		out[StreamStats][k] = fmt.Sprintf("events=%d firstPosition=%d lastPosition=%d version=%d", s.events, s.first, s.last, s.version)
		if !engine.IsSystemStream(k) {
			out["st"][k] = fmt.Sprintf("n=%d v=%d", s.events, s.version)
		}
	}
	for k, v := range perK {
		out["kb"][k] = fmt.Sprintf("n=%d", v)
	}
	out["cnt"]["$total"], out["cnt-ab"]["$total"] = total(cnt), total(cntAB)
	return out
}

// entries lists a projection's read model as key → the fields of its
// value that recount knows, rendered "f=v …" in field order.
func entries(t *testing.T, m *Manager, id string) map[string]string {
	t.Helper()
	fields := map[string][]string{ByEventType: {"count"}, "cnt": {"count"}, "cnt-ab": {"count"},
		ByCategory: {"events", "streams"}, StreamStats: {"events", "firstPosition", "lastPosition", "version"},
		"st": {"n", "v"}, "kb": {"n"}}[id]
	out := map[string]string{}
	q := Query{Limit: 1000}
	for {
		page, err := m.Query(id, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range page.Items {
			var v map[string]any
			dec := json.NewDecoder(strings.NewReader(string(it.Value)))
			dec.UseNumber()
			if err := dec.Decode(&v); err != nil {
				t.Fatalf("%s %s: %s: %v", id, it.Key, it.Value, err)
			}
			var parts []string
			for _, f := range fields {
				parts = append(parts, fmt.Sprintf("%s=%v", f, v[f]))
			}
			out[it.Key] = strings.Join(parts, " ")
		}
		if !page.More {
			break
		}
		q.After = page.Next
	}
	if id == "cnt" || id == "cnt-ab" {
		in, err := m.Get(id)
		if err != nil {
			t.Fatal(err)
		}
		var s struct{ Total uint64 }
		if err := json.Unmarshal(in.State, &s); err != nil {
			t.Fatal(err)
		}
		if s.Total != in.EventsProcessed {
			t.Fatalf("%s: total %d, eventsProcessed %d", id, s.Total, in.EventsProcessed)
		}
		out["$total"] = fmt.Sprint(s.Total)
	}
	return out
}

func closeAll(t *testing.T, m *Manager, db *pebbleDB, st *engine.Store) {
	t.Helper()
	if err := m.Close(); err != nil {
		t.Error(err)
	}
	if err := db.Close(); err != nil {
		t.Error(err)
	}
	if err := st.Close(); err != nil {
		t.Error(err)
	}
}
