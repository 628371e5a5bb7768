package engine

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var crashRounds = flag.Int("crash-rounds", 20, "rounds of TestCrashKill (SIGKILL under load, reopen, check)")

const crashChildEnv = "EVENTD_ENGINE_CRASH_CHILD"

// TestMain lets the test binary double as the crash test's child process.
func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		return
	}
	flag.Parse()
	if !testing.Verbose() {
		slog.SetDefault(slog.New(slog.DiscardHandler))
	}
	os.Exit(m.Run())
}

// crashChild appends from many goroutines until it is killed, printing one
// line per acknowledged event: "stream version position id".
func crashChild(dir string) {
	s, err := Open(dir, Options{SegmentSize: 256 << 10, CheckpointEvery: 2000})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(3)
	}
	out := bufio.NewWriterSize(os.Stdout, 64<<10)
	var mu sync.Mutex
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	for w := 0; w < 16; w++ {
		go func() {
			for i := 0; ; i++ {
				stream := fmt.Sprintf("c%d-%d", w, i%5)
				n := 1 + i%3
				evs := make([]Proposed, n)
				for k := range evs {
					evs[k] = Proposed{ID: fmt.Sprintf("%s-%d-%d-%d", run, w, i, k), Type: "Crash", Data: []byte(`{"pad":"` + strings.Repeat("x", 150) + `"}`)}
				}
				res, err := s.Append(context.Background(), stream, Any, evs)
				if err != nil {
					fmt.Fprintln(os.Stderr, "append:", err)
					os.Exit(4)
				}
				mu.Lock()
				for _, e := range res.Events {
					fmt.Fprintf(out, "%s %d %d %s\n", stream, e.Version, e.Position, e.ID)
				}
				out.Flush() // acknowledged: the parent may count on it
				mu.Unlock()
			}
		}()
	}
	select {}
}

// TestCrashKill runs a child process that appends from 16 goroutines, kills
// it with SIGKILL at a random moment, reopens the store and checks that every
// acknowledged event is there with the same version and position, and that
// positions have no gap. Rounds accumulate in one data dir.
func TestCrashKill(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes; run without -short")
	}
	dir := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for round := 0; round < *crashRounds; round++ {
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
		type ack struct {
			stream   string
			ver, pos uint64
			id       string
		}
		var acks []ack
		done := make(chan struct{})
		go func() {
			defer close(done)
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				f := strings.Fields(sc.Text())
				if len(f) != 4 {
					continue // a line cut by the kill was never complete
				}
				v, _ := strconv.ParseUint(f[1], 10, 64)
				p, _ := strconv.ParseUint(f[2], 10, 64)
				acks = append(acks, ack{f[0], v, p, f[3]})
			}
		}()
		time.Sleep(time.Duration(100+rand.IntN(300)) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-done
		_ = cmd.Wait()
		if strings.Contains(stderr.String(), "append:") || strings.Contains(stderr.String(), "open:") {
			t.Fatalf("round %d: child failed: %s", round, stderr.String())
		}

		s := openT(t, dir, Options{SegmentSize: 256 << 10})
		head := s.Head()
		for _, a := range acks {
			p, err := s.ReadStream(a.stream, a.ver-1, Forward, 1)
			if err != nil || len(p.Events) != 1 {
				t.Fatalf("round %d: acknowledged %s v%d missing (%v)", round, a.stream, a.ver, err)
			}
			if e := p.Events[0]; e.ID != a.id || e.Position != a.pos {
				t.Fatalf("round %d: %s v%d is %s at %d, acknowledged %s at %d", round, a.stream, a.ver, e.ID, e.Position, a.id, a.pos)
			}
		}
		// No gap, no duplicate: positions 1..head, each event id once.
		seen := make(map[string]bool, head)
		for from := uint64(0); from < head; {
			page, err := s.ReadAll(from, Forward, 10000, Filter{})
			if err != nil {
				t.Fatalf("round %d: ReadAll: %v", round, err)
			}
			for i, e := range page.Events {
				if e.Position != from+uint64(i)+1 {
					t.Fatalf("round %d: gap before position %d", round, e.Position)
				}
				if seen[e.StreamID+"/"+e.ID] {
					t.Fatalf("round %d: event %s/%s twice", round, e.StreamID, e.ID)
				}
				seen[e.StreamID+"/"+e.ID] = true
			}
			from += uint64(len(page.Events))
			if len(page.Events) == 0 {
				t.Fatalf("round %d: ReadAll stopped at %d of %d", round, from, head)
			}
		}
		total += len(acks)
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("%d rounds, %d acknowledged events checked", *crashRounds, total)
}
