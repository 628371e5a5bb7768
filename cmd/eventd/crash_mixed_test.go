package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var crashRounds = flag.Int("crash-rounds", 20, "SIGKILL rounds of TestCrashMixed (make crash runs 100)")

// crashLog is every answer the daemon gave in TestCrashMixed that promises
// something: appended events, command statuses, events a subscriber saw.
type crashLog struct {
	mu     sync.Mutex
	events []ackEvent        // 201 to an append or a batch
	cmds   map[string]cmdAck // by command id
	seen   map[uint64]string // position → "stream/eventId" shown by a subscription
	users  []string          // users a CreateUser completed for
	stats  struct{ appends, batches, cmds, sse int }
}

type cmdAck struct {
	status string     // completed, failed, pending
	events []ackEvent // completed: its events
}

// TestCrashMixed runs the daemon binary, drives it from several goroutines
// (single appends, batches, sync and async commands, projection queries)
// with SSE subscribers checking that positions arrive gap-free and in
// order, kills it with SIGKILL at a random moment, restarts it on the same
// data dir and checks every acknowledged event and command status, the
// events the subscribers saw, that no command ran twice, and that the
// projections equal a recount of the log once caught up. Every fifth round
// it is also killed while recovering. -crash-rounds sets the rounds.
func TestCrashMixed(t *testing.T) {
	if testing.Short() {
		t.Fatal("TestCrashMixed runs the daemon: run it without -short, or skip it with -skip")
	}
	rounds := *crashRounds
	if rounds < 1 {
		t.Fatalf("-crash-rounds=%d: want at least 1", rounds)
	}
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	dir := filepath.Join(t.TempDir(), "data")
	flags := []string{"--segment-size", "256KiB", "--snapshot-every", "5"}
	log := &crashLog{cmds: map[string]cmdAck{}, seen: map[uint64]string{}}
	started := time.Now()
	var checked, recoveryKills int
	for round := 0; round < rounds; round++ {
		d := launch(t, dir, true, flags...)
		a := newAPI(d.addr, 32)
		n := verifyCrashLog(t, a, log, round)
		checked = n
		if round == 0 {
			crashSetup(t, a)
		}
		runMixedLoad(t, a, d, log, round, rng)
		if !d.killed() {
			t.Fatalf("round %d: the daemon ended by itself (%v)\n%s", round, d.err, d.out.tail())
		}
		if strings.Contains(d.out.String(), "panic") {
			t.Fatalf("round %d: the daemon panicked\n%s", round, d.out.tail())
		}
		a.close()
		if round%5 == 4 { // killed again while recovering
			r := launch(t, dir, false, flags...)
			time.Sleep(time.Duration(rng.IntN(150)) * time.Millisecond)
			r.kill()
			recoveryKills++
		}
	}
	d := launch(t, dir, true, flags...)
	a := newAPI(d.addr, 8)
	checked = verifyCrashLog(t, a, log, rounds)
	a.close()
	d.term(t)
	if out, err := exec.Command(binary(t), "verify", "--data-dir", dir).CombinedOutput(); err != nil || !strings.Contains(string(out), "OK") {
		t.Fatalf("eventd verify after the rounds: %v\n%s", err, out)
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	t.Logf("%d SIGKILL rounds under mixed load (+%d kills during recovery) in %v: %d events in the log; acknowledged: %d events (%d appends, %d batches), %d commands; %d events seen by subscribers; all present, no gap, no duplicate, no command run twice, projections equal a recount",
		rounds, recoveryKills, time.Since(started).Round(time.Millisecond), checked, len(log.events), log.stats.appends, log.stats.batches, len(log.cmds), len(log.seen))
	if len(log.events) == 0 || len(log.cmds) == 0 || len(log.seen) == 0 {
		t.Fatal("the load acknowledged nothing of some kind: the test proved nothing")
	}
}

// crashSetup defines what the load uses: a reducer, a command handler and
// projections.
func crashSetup(t *testing.T, a *api) {
	a.must(t, "PUT", "/api/reducers/counter", `{"category":"cnt","handlers":{"Inc":{"op":"increment","path":"n"}}}`, 201, nil)
	a.must(t, "PUT", "/api/command-handlers/Note", `{"eventType":"Noted","streamIdFrom":"commandData.s","expect":"any"}`, 201, nil)
	for _, p := range []string{
		`{"projectionId":"p-count","name":"every user event","kind":"count"}`,
		`{"projectionId":"p-cnt","name":"Inc per counter","kind":"state","streamPrefix":"cnt-","reducer":"counter"}`,
		`{"projectionId":"p-byk","name":"Inc per k","kind":"state","keyBy":"eventData.k","eventTypes":["Inc"],"reducer":"counter"}`,
	} {
		a.must(t, "POST", "/api/projections", p, 201, nil)
	}
}

// runMixedLoad drives the daemon until it is killed at a random moment.
func runMixedLoad(t *testing.T, a *api, d *proc, log *crashLog, round int, rng *rand.Rand) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var head struct {
		HeadPosition uint64 `json:"headPosition"`
	}
	if st, raw, err := a.do(ctx, "GET", "/health", nil); err != nil || st != 200 || json.Unmarshal(raw, &head) != nil {
		t.Fatalf("round %d: /health: %d %v", round, st, err)
	}
	var wg sync.WaitGroup
	var subErr atomic.Value
	// Subscribers: one catching up from a little before the head, one live.
	// Without a filter positions are consecutive: any gap or reorder fails.
	for i, q := range []string{"?fromPosition=" + strconv.FormatUint(head.HeadPosition-min(head.HeadPosition, 200), 10), ""} {
		var last uint64
		if i == 0 {
			last = head.HeadPosition - min(head.HeadPosition, 200)
		}
		hc := &http.Client{} // no timeout: the kill ends it
		done, err := subscribe(ctx, hc, a.base+"/api/subscribe"+q, func(ev sseEvent) error {
			if last != 0 && ev.pos != last+1 || last == 0 && ev.pos == 0 {
				return fmt.Errorf("subscriber %d: position %d after %d", i, ev.pos, last)
			}
			last = ev.pos
			var e wireEvent
			if err := json.Unmarshal(ev.data, &e); err != nil || e.Position != ev.pos {
				return fmt.Errorf("subscriber %d: event %d: %v %.200s", i, ev.pos, err, ev.data)
			}
			log.mu.Lock()
			log.seen[ev.pos] = e.StreamID + "/" + e.EventID
			log.mu.Unlock()
			return nil
		})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := <-done; err != nil && strings.HasPrefix(err.Error(), "subscriber") {
				subErr.Store(err)
			}
		}()
	}
	worker := func(fn func(i int, rng *rand.Rand) bool) {
		wg.Add(1)
		r := rand.New(rand.NewPCG(rng.Uint64(), 2))
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				if !fn(i, r) {
					return
				}
			}
		}()
	}
	for g := range 3 { // single appends
		worker(func(i int, r *rand.Rand) bool {
			stream := fmt.Sprintf("cnt-%d", r.IntN(6))
			typ, body := "Inc", fmt.Sprintf(`{"k":"k%d"}`, r.IntN(5))
			if r.IntN(3) == 0 {
				stream, typ, body = fmt.Sprintf("ord-%d", r.IntN(6)), "OrderPlaced", fmt.Sprintf(`{"n":%d}`, i)
			}
			id := fmt.Sprintf("r%d-a%d-%d", round, g, i)
			st, raw, err := a.do(ctx, "POST", "/api/events", fmt.Sprintf(`{"streamId":%q,"eventType":%q,"eventData":%s,"eventId":%q}`, stream, typ, body, id))
			if err != nil {
				return false // killed: no answer, nothing promised
			}
			if st != 201 {
				t.Errorf("round %d: append: %d %.300s", round, st, raw)
				return false
			}
			var e wireEvent
			if err := data(raw, &e); err != nil || e.EventID != id || e.StreamID != stream {
				t.Errorf("round %d: append answer %v %.300s", round, err, raw)
				return false
			}
			log.mu.Lock()
			log.events = append(log.events, ackEvent{stream, id, e.Version, e.Position})
			log.stats.appends++
			log.mu.Unlock()
			return true
		})
	}
	worker(func(i int, r *rand.Rand) bool {
		stream := fmt.Sprintf("cnt-%d", r.IntN(6))
		n := 2 + r.IntN(8)
		evs := make([]string, n)
		ids := make([]string, n)
		for k := range evs {
			ids[k] = fmt.Sprintf("r%d-b-%d-%d", round, i, k)
			evs[k] = fmt.Sprintf(`{"eventType":"Inc","eventData":{"k":"k%d"},"eventId":%q}`, r.IntN(5), ids[k])
		}
		st, raw, err := a.do(ctx, "POST", "/api/streams/"+stream+"/events", `{"events":[`+strings.Join(evs, ",")+`]}`)
		if err != nil {
			return false
		}
		var b struct {
			Events []wireEvent `json:"events"`
		}
		if st != 201 || data(raw, &b) != nil || len(b.Events) != n {
			t.Errorf("round %d: batch: %d %.300s", round, st, raw)
			return false
		}
		log.mu.Lock()
		for k, e := range b.Events {
			if e.EventID != ids[k] {
				t.Errorf("round %d: batch event %d is %s, sent %s", round, k, e.EventID, ids[k])
			}
			log.events = append(log.events, ackEvent{stream, e.EventID, e.Version, e.Position})
		}
		log.stats.batches++
		log.mu.Unlock()
		return true
	})
	for g := range 2 { // commands, half of them async
		worker(func(i int, r *rand.Rand) bool {
			id := fmt.Sprintf("r%d-c%d-%d", round, g, i)
			var body string
			log.mu.Lock()
			users := len(log.users)
			var u string
			if users > 0 {
				u = log.users[r.IntN(users)]
			}
			log.mu.Unlock()
			switch k := r.IntN(4); {
			case k == 0 || users == 0:
				body = fmt.Sprintf(`{"commandType":"CreateUser","commandData":{"userId":"user-%s","email":"%s@example.com","name":"N"}`, id, id)
			case k == 1:
				body = fmt.Sprintf(`{"commandType":"UpdateUser","commandData":{"userId":%q,"updates":{"name":"M%d"}}`, u, i)
			default:
				body = fmt.Sprintf(`{"commandType":"Note","commandData":{"s":"note-%d","k":"k%d"}`, r.IntN(4), r.IntN(5))
			}
			async := r.IntN(2) == 0
			body += fmt.Sprintf(`,"commandId":%q,"async":%v}`, id, async)
			st, raw, err := a.do(ctx, "POST", "/api/commands", body)
			if err != nil {
				return false
			}
			var out struct {
				Command struct {
					Status string `json:"status"`
				} `json:"command"`
				Result struct {
					Events []wireEvent `json:"events"`
				} `json:"result"`
			}
			c := cmdAck{}
			switch st {
			case 201:
				if err := data(raw, &out); err != nil || out.Command.Status != "completed" {
					t.Errorf("round %d: command %s: %v %.300s", round, id, err, raw)
					return false
				}
				c.status = "completed"
				for _, e := range out.Result.Events {
					c.events = append(c.events, ackEvent{e.StreamID, e.EventID, e.Version, e.Position})
				}
			case 202:
				c.status = "pending"
			case 409, 422:
				c.status = "failed"
			default:
				t.Errorf("round %d: command %s: %d %.300s", round, id, st, raw)
				return false
			}
			log.mu.Lock()
			log.cmds[id] = c
			log.stats.cmds++
			if strings.Contains(body, "CreateUser") && c.status != "failed" {
				log.users = append(log.users, "user-"+id)
			}
			log.mu.Unlock()
			return true
		})
	}
	worker(func(i int, r *rand.Rand) bool {
		p := []string{"p-count", "p-cnt", "p-byk", "$by-event-type"}[r.IntN(4)]
		st, raw, err := a.do(ctx, "GET", "/api/queries/"+p+"?limit=20", nil)
		if err != nil {
			return false
		}
		if st != 200 {
			t.Errorf("round %d: query %s: %d %.300s", round, p, st, raw)
			return false
		}
		time.Sleep(5 * time.Millisecond)
		return true
	})
	time.Sleep(time.Duration(200+rng.IntN(1000)) * time.Millisecond)
	d.kill()
	cancel()
	wg.Wait()
	if err, ok := subErr.Load().(error); ok {
		t.Fatalf("round %d: %v", round, err)
	}
}

// verifyCrashLog checks the restarted daemon against everything promised
// so far, after letting interrupted async commands finish and projections
// catch up. It returns the number of events in the log.
func verifyCrashLog(t *testing.T, a *api, log *crashLog, round int) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	log.mu.Lock()
	defer log.mu.Unlock()
	// Commands first: accepted ones run after the restart (and append).
	for id, c := range log.cmds {
		var got struct {
			Status string `json:"status"`
			Result struct {
				Events []wireEvent `json:"events"`
			} `json:"result"`
		}
		for {
			st, raw, err := a.do(ctx, "GET", "/api/commands/"+id+"/status", nil)
			if err != nil || st != 200 || data(raw, &got) != nil {
				t.Fatalf("round %d: status of acknowledged command %s (%s): %d %v %.300s", round, id, c.status, st, err, raw)
			}
			if c.status != "pending" || got.Status == "completed" || got.Status == "failed" {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("round %d: accepted command %s still %s", round, id, got.Status)
			}
			time.Sleep(5 * time.Millisecond)
		}
		if c.status != "pending" && got.Status != c.status {
			t.Fatalf("round %d: command %s acknowledged %s, now %s", round, id, c.status, got.Status)
		}
		if c.status == "completed" {
			if len(got.Result.Events) != len(c.events) {
				t.Fatalf("round %d: command %s: result %+v, acknowledged %+v", round, id, got.Result.Events, c.events)
			}
			for i, e := range got.Result.Events {
				if w := c.events[i]; e.Position != w.pos || e.EventID != w.id || e.Version != w.version || e.StreamID != w.stream {
					t.Fatalf("round %d: command %s: event %+v, acknowledged %+v", round, id, e, w)
				}
			}
		}
		if c.status == "pending" {
			c.status = got.Status
			if got.Status == "completed" {
				for _, e := range got.Result.Events {
					c.events = append(c.events, ackEvent{e.StreamID, e.EventID, e.Version, e.Position})
				}
			}
			log.cmds[id] = c
		}
	}
	// Commands accepted but never acknowledged (the 202 was lost) may
	// still be running: wait until $commands has no unfinished one.
	var all []wireEvent
	for {
		var err error
		if all, err = a.readAll(ctx); err != nil {
			t.Fatalf("round %d: reading $all: %v", round, err)
		}
		open := map[string]bool{}
		for _, e := range all {
			if e.StreamID != "$commands" {
				continue
			}
			var c struct{ ID string }
			_ = json.Unmarshal(e.EventData, &c)
			open[c.ID] = e.EventType == "CommandAccepted"
		}
		busy := false
		for _, o := range open {
			busy = busy || o
		}
		if !busy {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("round %d: accepted commands never finished", round)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The log: 1..head, each (stream, id) once, every promise in place.
	seen := make(map[string]bool, len(all))
	ran := map[string]int{}
	for i, e := range all {
		if e.Position != uint64(i+1) {
			t.Fatalf("round %d: gap: event %d has position %d", round, i, e.Position)
		}
		k := e.StreamID + "/" + e.EventID
		if seen[k] {
			t.Fatalf("round %d: event %s twice", round, k)
		}
		seen[k] = true
		if !strings.HasPrefix(e.StreamID, "$") && len(e.Metadata) > 2 {
			var m struct {
				CommandID string `json:"commandId"`
			}
			if json.Unmarshal(e.Metadata, &m) == nil && m.CommandID != "" {
				ran[m.CommandID]++
			}
		}
	}
	for id, n := range ran {
		if n != 1 {
			t.Fatalf("round %d: command %s ran %d times", round, id, n)
		}
	}
	for id, c := range log.cmds {
		if want := map[bool]int{true: 1, false: 0}[c.status == "completed"]; ran[id] != want {
			t.Fatalf("round %d: command %s is %s and has %d events", round, id, c.status, ran[id])
		}
	}
	check := func(what string, a ackEvent) {
		if a.pos == 0 || a.pos > uint64(len(all)) {
			t.Fatalf("round %d: %s %s/%s at %d is lost (head %d)", round, what, a.stream, a.id, a.pos, len(all))
		}
		if e := all[a.pos-1]; e.StreamID != a.stream || e.EventID != a.id || e.Version != a.version {
			t.Fatalf("round %d: position %d holds %s/%s v%d, %s %s/%s v%d", round, a.pos, e.StreamID, e.EventID, e.Version, what, a.stream, a.id, a.version)
		}
	}
	for _, e := range log.events {
		check("acknowledged", e)
	}
	for _, c := range log.cmds {
		for _, e := range c.events {
			check("command event", e)
		}
	}
	for pos, k := range log.seen {
		if pos > uint64(len(all)) || all[pos-1].StreamID+"/"+all[pos-1].EventID != k {
			t.Fatalf("round %d: a subscriber saw %s at %d; the log after the crash does not have it (head %d)", round, k, pos, len(all))
		}
	}
	// Projections, caught up, equal a recount.
	if round > 0 {
		head := len(all)
		want := crashRecount(all)
		for id, w := range want {
			got := map[string]string{}
			var page struct {
				Position uint64 `json:"position"`
				Items    []struct {
					Key   string          `json:"key"`
					Value json.RawMessage `json:"value"`
				} `json:"items"`
				NextCursor string `json:"nextCursor"`
			}
			cursor := ""
			for {
				st, raw, err := a.do(ctx, "GET", fmt.Sprintf("/api/queries/%s?limit=10000&minPosition=%d&timeout=30s&cursor=%s", id, head, cursor), nil)
				if err != nil || st != 200 || data(raw, &page) != nil {
					t.Fatalf("round %d: query %s at %d: %d %v %.300s", round, id, head, st, err, raw)
				}
				field := "n" // the counter reducer's
				if id == "p-count" || id == "$by-event-type" {
					field = "count"
				}
				for _, it := range page.Items {
					var v map[string]json.Number
					if err := json.Unmarshal(it.Value, &v); err != nil {
						t.Fatalf("round %d: %s %s: %v %s", round, id, it.Key, err, it.Value)
					}
					got[it.Key] = string(v[field])
				}
				if page.NextCursor == "" {
					break
				}
				cursor = page.NextCursor
			}
			if d := diffMaps(got, w); d != "" {
				t.Fatalf("round %d: projection %s (at %d, head %d) differs from a recount of the log: %s", round, id, page.Position, head, d)
			}
		}
	}
	return len(all)
}

// crashRecount: what the projections must hold, key → number.
func crashRecount(all []wireEvent) map[string]map[string]string {
	byType, count, cnt, byK := map[string]int{}, map[string]int{}, map[string]int{}, map[string]int{}
	for _, e := range all {
		byType[e.EventType]++
		if strings.HasPrefix(e.StreamID, "$") {
			continue
		}
		count[e.EventType]++
		if e.EventType != "Inc" {
			continue
		}
		if strings.HasPrefix(e.StreamID, "cnt-") {
			cnt[e.StreamID]++
		}
		var d struct{ K string }
		if json.Unmarshal(e.EventData, &d) == nil && d.K != "" {
			byK[d.K]++
		}
	}
	str := func(m map[string]int) map[string]string {
		out := make(map[string]string, len(m))
		for k, v := range m {
			out[k] = strconv.Itoa(v)
		}
		return out
	}
	return map[string]map[string]string{"$by-event-type": str(byType), "p-count": str(count), "p-cnt": str(cnt), "p-byk": str(byK)}
}
