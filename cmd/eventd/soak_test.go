package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

var (
	soakDuration = flag.Duration("soak-duration", envDuration("EVENTD_SOAK_DURATION", 30*time.Second), "how long TestSoak loads the daemon (make soak: 10m; env EVENTD_SOAK_DURATION)")
	soakInterval = flag.Duration("soak-interval", 0, "TestSoak's sampling interval (0: a twelfth of the duration, at least 2 s)")
	soakSubs     = flag.Int("soak-subscribers", 1000, "SSE subscribers of TestSubscriberOverhead")
	soakPhase    = flag.Duration("soak-phase", 3*time.Second, "length of each throughput phase of TestSubscriberOverhead")
	soakFanout   = flag.Bool("soak-fanout", false, "TestSubscriberOverhead also reports throughput with subscribers that receive every event")
)

func envDuration(name string, def time.Duration) time.Duration {
	if v, ok := os.LookupEnv(name); ok {
		if d, err := time.ParseDuration(v); err == nil && d > 0 {
			return d
		}
	}
	return def
}

// soakSample is one interval's measurements of the daemon.
type soakSample struct {
	at                    time.Duration
	rss, index            int64 // bytes: VmRSS, and the index's estimate (grows with the events, by design)
	goroutines, fds, head int64
	dataFiles             int64                    // descriptors of files under the data dir (not counted in fds)
	p99                   map[string]time.Duration // per kind of request, this interval
	n                     map[string]int
}

// latencies collects request latencies per kind for the current interval.
type latencies struct {
	mu sync.Mutex
	m  map[string][]time.Duration
}

func (l *latencies) add(kind string, d time.Duration) {
	l.mu.Lock()
	l.m[kind] = append(l.m[kind], d)
	l.mu.Unlock()
}

func (l *latencies) take() (p99 map[string]time.Duration, n map[string]int) {
	l.mu.Lock()
	m := l.m
	l.m = map[string][]time.Duration{}
	l.mu.Unlock()
	p99, n = map[string]time.Duration{}, map[string]int{}
	for k, v := range m {
		slices.Sort(v)
		p99[k], n[k] = v[(len(v)*99)/100], len(v)
	}
	return p99, n
}

// procStatus reads VmRSS (bytes) and the open descriptors of pid: fds
// counts those that are not files under dataDir (sockets, pipes, anything
// that can leak), data those that are (segments, and pebble's tables and
// logs: they grow with the data, one segment per --segment-size, pebble's
// table cache as its read models grow).
func procStatus(pid int, dataDir string) (rss, fds, data int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			rss = kb << 10
		}
	}
	fdDir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(fdDir)
	if err != nil {
		return 0, 0, 0, err
	}
	for _, e := range ents {
		target, err := os.Readlink(filepath.Join(fdDir, e.Name()))
		if err == nil && dataDir != "" && strings.HasPrefix(target, dataDir+string(filepath.Separator)) {
			data++
		} else {
			fds++
		}
	}
	return rss, fds, data, nil
}

// metricValues reads unlabelled gauges from /metrics.
func metricValues(a *api, names ...string) (map[string]int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, raw, err := a.do(ctx, "GET", "/metrics", nil)
	if err != nil || st != 200 {
		return nil, fmt.Errorf("GET /metrics: %d %v", st, err)
	}
	out := map[string]int64{}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && slices.Contains(names, f[0]) {
			v, err := strconv.ParseFloat(f[1], 64)
			if err == nil {
				out[f[0]] = int64(v)
			}
		}
	}
	for _, n := range names {
		if _, ok := out[n]; !ok {
			return nil, fmt.Errorf("/metrics has no %s", n)
		}
	}
	return out, nil
}

func (p *proc) sample(a *api) (soakSample, error) {
	rss, fds, data, err := procStatus(p.cmd.Process.Pid, p.dir)
	if err != nil {
		return soakSample{}, err
	}
	m, err := metricValues(a, "go_goroutines", "eventd_index_memory_bytes", "eventd_head_position")
	if err != nil {
		return soakSample{}, err
	}
	return soakSample{rss: rss, fds: fds, dataFiles: data, goroutines: m["go_goroutines"], index: m["eventd_index_memory_bytes"], head: m["eventd_head_position"]}, nil
}

// raiseNoFile lifts the soft open-file limit to the hard one (the daemon,
// a child, inherits it): the subscriber test opens a thousand sockets.
func raiseNoFile(t *testing.T, need uint64) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		t.Fatal(err)
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			t.Fatal(err)
		}
	}
	if rl.Cur < need {
		t.Fatalf("the open-file limit is %d; this test needs %d (raise ulimit -n)", rl.Cur, need)
	}
}

// TestSoak runs a bounded mixed load against the daemon — appends,
// batches, sync and async commands, replays, projection queries, long-lived
// and churning SSE subscriptions — for -soak-duration, sampling the
// daemon's RSS, goroutines, open files and per-interval p99 latencies. After
// a warm-up they must stay flat: goroutines and descriptors within a small
// margin, RSS (less the index, which grows with the events by design)
// without growth from the first half to the second beyond a tolerance,
// p99 without drifting beyond a factor; and once the load stops,
// goroutines and descriptors return to where they were before it.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Fatal("TestSoak runs the daemon: run it without -short, or skip it with -skip")
	}
	dur := *soakDuration
	interval := *soakInterval
	if interval <= 0 {
		interval = max(dur/12, 2*time.Second)
	}
	if dur < 3*interval {
		t.Fatalf("-soak-duration %v is too short for -soak-interval %v (want at least 3 intervals)", dur, interval)
	}
	dir := filepath.Join(t.TempDir(), "data")
	d := launch(t, dir, true, "--segment-size", "8MiB", "--snapshot-every", "50")
	a := newAPI(d.addr, 64)
	defer a.close()
	crashSetup(t, a)
	for _, s := range []string{`{"projectionId":"p-users","name":"users","kind":"state","streamPrefix":"user-"}`} {
		a.must(t, "POST", "/api/projections", s, 201, nil)
	}
	time.Sleep(500 * time.Millisecond)
	idle, err := d.sample(a)
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	lat := &latencies{m: map[string][]time.Duration{}}
	var failures atomic.Int64
	var firstErr atomic.Value
	fail := func(format string, args ...any) {
		if failures.Add(1) == 1 {
			firstErr.Store(fmt.Sprintf(format, args...))
		}
	}
	var wg sync.WaitGroup
	// loop runs fn every period (or as fast as it goes when slower) until
	// the load stops.
	loop := func(period time.Duration, fn func(r *rand.Rand, i int)) {
		wg.Add(1)
		r := rand.New(rand.NewPCG(rand.Uint64(), 3))
		go func() {
			defer wg.Done()
			tick := time.NewTicker(period)
			defer tick.Stop()
			for i := 0; ; i++ {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				fn(r, i)
			}
		}()
	}
	call := func(kind, method, path, body string, ok ...int) []byte {
		start := time.Now()
		st, raw, err := a.do(ctx, method, path, body)
		if ctx.Err() != nil {
			return nil
		}
		lat.add(kind, time.Since(start))
		if err != nil || !slices.Contains(ok, st) {
			fail("%s %s: %d %v %.200s", method, path, st, err, raw)
		}
		return raw
	}
	var users atomic.Int64
	for w := range 4 { // single appends, ~1,000/s in all
		loop(4*time.Millisecond, func(r *rand.Rand, i int) {
			call("append", "POST", "/api/events", fmt.Sprintf(`{"streamId":"cnt-%d","eventType":"Inc","eventData":{"k":"k%d","w":%d,"pad":"%s"}}`, r.IntN(500), r.IntN(50), w, strings.Repeat("x", r.IntN(300))), 201)
		})
	}
	loop(20*time.Millisecond, func(r *rand.Rand, i int) { // batches of 20
		evs := make([]string, 20)
		for k := range evs {
			evs[k] = fmt.Sprintf(`{"eventType":"OrderLine","eventData":{"line":%d,"sku":"s%d"}}`, k, r.IntN(1000))
		}
		call("batch", "POST", fmt.Sprintf("/api/streams/ord-%d/events", r.IntN(2000)), `{"events":[`+strings.Join(evs, ",")+`]}`, 201)
	})
	for range 2 { // commands: creates, updates, notes; half async
		loop(10*time.Millisecond, func(r *rand.Rand, i int) {
			async := r.IntN(2) == 0
			switch n := users.Load(); {
			case r.IntN(3) == 0 || n == 0:
				u := users.Add(1)
				call("command", "POST", "/api/commands", fmt.Sprintf(`{"commandType":"CreateUser","commandData":{"userId":"user-%d","email":"u%d@example.com","name":"N"},"async":%v}`, u, u, async), 201, 202)
			case r.IntN(2) == 0:
				call("command", "POST", "/api/commands", fmt.Sprintf(`{"commandType":"UpdateUser","commandData":{"userId":"user-%d","updates":{"n":%d}},"async":%v}`, 1+r.Int64N(n), i, async), 201, 202, 422)
			default:
				call("command", "POST", "/api/commands", fmt.Sprintf(`{"commandType":"Note","commandData":{"s":"note-%d","k":"k%d"},"async":%v}`, r.IntN(100), r.IntN(50), async), 201, 202)
			}
		})
	}
	for range 2 { // queries of the projections, some reading their writes
		loop(10*time.Millisecond, func(r *rand.Rand, i int) {
			switch r.IntN(4) {
			case 0:
				call("query", "GET", fmt.Sprintf("/api/queries/p-cnt?key=cnt-%d", r.IntN(500)), "", 200, 404)
			case 1:
				call("query", "GET", fmt.Sprintf("/api/queries/p-byk?where=n:%d&limit=50", r.IntN(100)), "", 200)
			case 2:
				call("query", "GET", "/api/queries/p-users?limit=100", "", 200)
			default:
				call("query", "GET", "/api/projections/p-count", "", 200)
			}
		})
	}
	loop(20*time.Millisecond, func(r *rand.Rand, i int) { // replays (snapshots underneath)
		call("replay", "POST", fmt.Sprintf("/api/events/cnt-%d/replay", r.IntN(500)), `{"includeEvents":false}`, 200, 404)
	})
	// Subscriptions: four long-lived ones following $all, and churn: one
	// opened every 50 ms, read for a while, then dropped.
	var sseEvents atomic.Int64
	for range 4 {
		done, err := subscribe(ctx, &http.Client{}, a.base+"/api/subscribe", func(sseEvent) error { sseEvents.Add(1); return nil })
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); <-done }()
	}
	loop(50*time.Millisecond, func(r *rand.Rand, i int) {
		sctx, scancel := context.WithTimeout(ctx, time.Duration(20+r.IntN(300))*time.Millisecond)
		q := "/api/subscribe?excludeSystem=true"
		if r.IntN(2) == 0 {
			q = fmt.Sprintf("/api/streams/cnt-%d/subscribe?fromVersion=0", r.IntN(500))
		}
		done, err := subscribe(sctx, &http.Client{}, a.base+q, func(sseEvent) error { return nil })
		if err == nil {
			<-done
		} else if ctx.Err() == nil && sctx.Err() == nil {
			fail("subscribe %s: %v", q, err)
		}
		scancel()
	})

	// Sample every interval.
	started := time.Now()
	var samples []soakSample
	for time.Since(started) < dur {
		time.Sleep(interval - time.Since(started)%interval)
		s, err := d.sample(a)
		if err != nil {
			t.Fatalf("sampling: %v", err)
		}
		s.at = time.Since(started).Round(time.Second)
		s.p99, s.n = lat.take()
		samples = append(samples, s)
		t.Logf("%6v  rss %4d MiB (index %3d MiB)  goroutines %4d  fds %3d (+%d data files)  head %8d  p99 append %6v batch %6v command %6v query %6v replay %6v  (%d appends)",
			s.at, s.rss>>20, s.index>>20, s.goroutines, s.fds, s.dataFiles, s.head, s.p99["append"].Round(10*time.Microsecond), s.p99["batch"].Round(10*time.Microsecond),
			s.p99["command"].Round(10*time.Microsecond), s.p99["query"].Round(10*time.Microsecond), s.p99["replay"].Round(10*time.Microsecond), s.n["append"])
	}
	cancel()
	wg.Wait()
	a.close()
	time.Sleep(time.Second) // closed connections and subscriptions wind down
	after, err := d.sample(a)
	if err != nil {
		t.Fatal(err)
	}
	if n := failures.Load(); n > 0 {
		t.Errorf("%d requests failed under load; first: %v", n, firstErr.Load())
	}

	// Flat after warm-up: the first quarter of the samples is warm-up.
	post := samples[max(1, len(samples)/4):]
	half := len(post) / 2
	first, second := post[:half], post[half:]
	med := func(ss []soakSample, f func(soakSample) int64) int64 {
		v := make([]int64, len(ss))
		for i, s := range ss {
			v[i] = f(s)
		}
		slices.Sort(v)
		return v[len(v)/2]
	}
	rssLessIndex := func(s soakSample) int64 { return s.rss - s.index }
	warm := post[0]
	r1, r2 := med(first, rssLessIndex), med(second, rssLessIndex)
	if tol := max(48<<20, r1/5); r2-r1 > tol {
		t.Errorf("RSS less the index grew from %d MiB (first half after warm-up) to %d MiB (second half): more than %d MiB", r1>>20, r2>>20, tol>>20)
	}
	maxOf := func(f func(soakSample) int64) int64 {
		m := int64(0)
		for _, s := range post {
			m = max(m, f(s))
		}
		return m
	}
	if g := maxOf(func(s soakSample) int64 { return s.goroutines }); g > warm.goroutines+max(40, warm.goroutines/4) {
		t.Errorf("goroutines grew under a steady load: %d after warm-up, up to %d", warm.goroutines, g)
	}
	if f := maxOf(func(s soakSample) int64 { return s.fds }); f > warm.fds+max(24, warm.fds/4) {
		t.Errorf("open descriptors (not data files) grew under a steady load: %d after warm-up, up to %d", warm.fds, f)
	}
	if after.goroutines > idle.goroutines+10 {
		t.Errorf("goroutines after the load: %d, before it %d (a leak)", after.goroutines, idle.goroutines)
	}
	if after.fds > idle.fds+8 {
		t.Errorf("open descriptors (not data files) after the load: %d, before it %d (a leak)", after.fds, idle.fds)
	}
	for _, kind := range []string{"append", "command", "query"} {
		p1 := med(first, func(s soakSample) int64 { return int64(s.p99[kind]) })
		p2 := med(second, func(s soakSample) int64 { return int64(s.p99[kind]) })
		if p2 > 3*p1+int64(20*time.Millisecond) {
			t.Errorf("p99 of %s drifted from %v to %v", kind, time.Duration(p1), time.Duration(p2))
		}
	}
	if sseEvents.Load() == 0 {
		t.Error("the subscribers received nothing")
	}
	last := samples[len(samples)-1]
	t.Logf("soak %v, %d samples every %v: RSS %d → %d MiB (index %d → %d MiB), goroutines %d → %d (idle %d before, %d after), fds %d → %d (idle %d, after %d; data files %d → %d), head %d, p99 append %v → %v, command %v → %v, query %v → %v; %d events to 4 live subscribers",
		dur, len(samples), interval, warm.rss>>20, last.rss>>20, warm.index>>20, last.index>>20, warm.goroutines, last.goroutines, idle.goroutines, after.goroutines,
		warm.fds, last.fds, idle.fds, after.fds, warm.dataFiles, last.dataFiles, last.head, warm.p99["append"].Round(10*time.Microsecond), last.p99["append"].Round(10*time.Microsecond),
		warm.p99["command"].Round(10*time.Microsecond), last.p99["command"].Round(10*time.Microsecond), warm.p99["query"].Round(10*time.Microsecond), last.p99["query"].Round(10*time.Microsecond), sseEvents.Load())
}

// rawSub is an SSE subscriber on a bare TCP connection: it sends the
// request, waits for the ": subscribed" comment, then only drains the
// socket (counting bytes), so a thousand of them cost the test little.
type rawSub struct {
	conn  net.Conn
	bytes atomic.Int64
	done  chan struct{}
}

func dialSub(addr, path string) (*rawSub, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n\r\n", path, addr); err != nil {
		c.Close()
		return nil, err
	}
	var got []byte
	buf := make([]byte, 1024)
	for !bytes.Contains(got, []byte(": subscribed")) {
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("subscribe: %v after %q", err, got)
		}
	}
	if !bytes.HasPrefix(got, []byte("HTTP/1.1 200")) {
		c.Close()
		return nil, fmt.Errorf("subscribe: %q", got)
	}
	_ = c.SetDeadline(time.Time{})
	s := &rawSub{conn: c, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		b := make([]byte, 4096)
		for {
			n, err := c.Read(b)
			s.bytes.Add(int64(n))
			if err != nil {
				return
			}
		}
	}()
	return s, nil
}

// appendRate appends single events from 32 goroutines for d and returns
// appends per second.
func appendRate(t *testing.T, a *api, d time.Duration, tag string) float64 {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var n atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for w := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				st, raw, err := a.do(ctx, "POST", "/api/events", fmt.Sprintf(`{"streamId":"tp-%d","eventType":"Tick","eventData":{"i":%d,"tag":%q}}`, w, i, tag))
				if ctx.Err() != nil {
					return
				}
				if err != nil || st != 201 {
					t.Errorf("append: %d %v %.200s", st, err, raw)
					return
				}
				n.Add(1)
			}
		}()
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds()
}

// TestSubscriberOverhead measures append throughput (32 concurrent
// clients, fsync always) with no subscriber and with -soak-subscribers
// idle-but-connected SSE subscribers on /api/subscribe — live at the head,
// filtered to an event type nobody appends, so they send nothing (and,
// since engine/typemarks.go, are not even woken by the commits) — in
// alternating phases, three of each, and wants the best rate with
// subscribers to be at least 80% of the best without. With
// -soak-fanout it also reports (without a bound) the rate when every
// subscriber receives every event.
func TestSubscriberOverhead(t *testing.T) {
	if testing.Short() {
		t.Fatal("TestSubscriberOverhead runs the daemon: run it without -short, or skip it with -skip")
	}
	nsubs := *soakSubs
	raiseNoFile(t, uint64(2*nsubs+512))
	dir := filepath.Join(t.TempDir(), "data")
	d := launch(t, dir, true)
	a := newAPI(d.addr, 64)
	defer a.close()
	appendRate(t, a, time.Second, "warm-up")
	measure := func(query string, wantBytes bool) (without, with []float64, rss int64) {
		for round := range 3 {
			without = append(without, appendRate(t, a, *soakPhase, "none"))
			subs := make([]*rawSub, 0, nsubs)
			for range nsubs {
				s, err := dialSub(d.addr, "/api/subscribe"+query)
				if err != nil {
					t.Fatalf("subscriber %d of %d: %v", len(subs), nsubs, err)
				}
				subs = append(subs, s)
			}
			m, err := metricValues(a, "eventd_subscribers")
			if err != nil {
				t.Fatal(err)
			}
			if m["eventd_subscribers"] < int64(nsubs) {
				t.Fatalf("the daemon counts %d subscribers, %d are connected", m["eventd_subscribers"], nsubs)
			}
			if round == 0 {
				rss, _, _, _ = procStatus(d.cmd.Process.Pid, d.dir)
			}
			with = append(with, appendRate(t, a, *soakPhase, "subs"))
			time.Sleep(200 * time.Millisecond)
			var quiet, gone int
			for _, s := range subs {
				if s.bytes.Load() < 100 {
					quiet++
				}
				select {
				case <-s.done:
					gone++ // the server ended it
				default:
				}
				s.conn.Close()
			}
			for _, s := range subs {
				<-s.done
			}
			if gone > 0 {
				t.Fatalf("the daemon dropped %d of %d subscribers during the phase", gone, nsubs)
			}
			if wantBytes && quiet > 0 {
				t.Fatalf("%d of %d subscribers received nothing while events were appended", quiet, nsubs)
			}
		}
		return without, with, rss
	}
	without, with, rss := measure("?eventTypes=NeverAppended", false)
	ratio := slices.Max(with) / slices.Max(without)
	t.Logf("append throughput: %.0f/s without subscribers (phases %.0f), %.0f/s with %d idle subscribers on /api/subscribe (phases %.0f): %.1f%% of it; daemon RSS with them %d MiB",
		slices.Max(without), without, slices.Max(with), nsubs, with, 100*ratio, rss>>20)
	if ratio < 0.8 {
		t.Errorf("%d idle subscribers slow appends by %.0f%% (more than 20%%)", nsubs, 100*(1-ratio))
	}
	if *soakFanout {
		without, with, _ := measure("", true)
		t.Logf("fan-out (reported, not bounded): %.0f/s without, %.0f/s with %d subscribers receiving every event: %.1f%%",
			slices.Max(without), slices.Max(with), nsubs, 100*slices.Max(with)/slices.Max(without))
	}
}
