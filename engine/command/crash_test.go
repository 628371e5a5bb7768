package command

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eventd/eventd/engine"
	"github.com/eventd/eventd/engine/reducer"
)

var crashRounds = flag.Int("crash-rounds", 3, "rounds of TestCrashKill (SIGKILL while async commands are queued)")

const crashChildEnv = "EVENTD_COMMAND_CRASH_CHILD"

var noteHandler = HandlerDef{EventType: "Noted", StreamIDFrom: "commandData.s", Expect: ExpectAny, Data: "commandData"}

// crashChild submits Note commands from 8 goroutines (most async, with one
// worker, so a backlog builds) until it is killed, printing each
// acknowledged command id: "A id" for a 202, "S id" for a completed sync
// command.
func crashChild(dir string) {
	st, err := engine.Open(dir, engine.Options{Fsync: engine.FsyncNever, Logger: quiet()})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(3)
	}
	svc, err := Open(st, reducer.NewRegistry(), Options{Workers: 1, Logger: quiet()})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open service:", err)
		os.Exit(3)
	}
	if _, _, err := svc.PutHandler(context.Background(), "Note", noteHandler); err != nil {
		fmt.Fprintln(os.Stderr, "put:", err)
		os.Exit(3)
	}
	out := bufio.NewWriter(os.Stdout)
	var mu sync.Mutex
	run := strconv.FormatInt(time.Now().UnixNano(), 36)
	for w := range 8 {
		go func() {
			for i := 0; ; i++ {
				id := fmt.Sprintf("%s-%d-%d", run, w, i)
				r := Request{ID: id, Type: "Note", Expected: engine.Any, Async: i%5 != 0,
					Data: []byte(fmt.Sprintf(`{"s":"notes-%d","i":%d}`, i%4, i))}
				o, err := svc.Submit(context.Background(), r)
				if err != nil {
					fmt.Fprintln(os.Stderr, "submit:", err)
					os.Exit(4)
				}
				tag := "A"
				if !r.Async {
					if o.Command.Status != Completed {
						fmt.Fprintln(os.Stderr, "sync command not completed:", o.Command.Status)
						os.Exit(4)
					}
					tag = "S"
				}
				mu.Lock()
				fmt.Fprintln(out, tag, id)
				out.Flush() // acknowledged: the parent may count on it
				mu.Unlock()
			}
		}()
	}
	select {}
}

// TestCrashKill kills a process with a backlog of accepted async commands
// (SIGKILL), reopens, and checks that every acknowledged command completes
// and that no command — acknowledged or not — ran twice.
func TestCrashKill(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes; run without -short")
	}
	dir := t.TempDir()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	var acked []string
	total := 0 // unfinished commands found after the kills
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
		want := 200 + rand.IntN(800)
		sc := bufio.NewScanner(stdout)
		n := 0
		for n < want && sc.Scan() {
			if _, id, ok := strings.Cut(sc.Text(), " "); ok {
				acked = append(acked, id)
				n++
			}
		}
		_ = cmd.Process.Signal(syscall.SIGKILL)
		for sc.Scan() { // acknowledged before the kill landed
			if _, id, ok := strings.Cut(sc.Text(), " "); ok {
				acked = append(acked, id)
			}
		}
		_ = cmd.Wait()
		if n < want {
			t.Fatalf("round %d: child stopped after %d acks: %s", round, n, stderr.String())
		}

		st := openStore(t, dir)
		e := &env{t: t, dir: dir, st: st}
		// What the crash left: commands whose latest record is CommandAccepted.
		latest := map[string]string{}
		for _, ev := range e.events(commandsStream) {
			latest[decode(t, ev.Data)["id"].(string)] = ev.Type
		}
		pending := 0
		for _, typ := range latest {
			if typ == evAccepted {
				pending++
			}
		}
		e.svc = openSvc(t, st, Options{})
		for _, id := range acked {
			if latest[id] == "" {
				t.Fatalf("round %d: acknowledged command %s is not in %s", round, id, commandsStream)
			}
			completed(t, e.waitFinal(id))
		}
		ran := map[string]int{}
		for s := range 4 {
			for _, ev := range e.events(fmt.Sprint("notes-", s)) {
				ran[decode(t, ev.Metadata)["commandId"].(string)]++
			}
		}
		for id, k := range ran {
			if k != 1 {
				t.Fatalf("round %d: command %s ran %d times", round, id, k)
			}
		}
		for _, id := range acked {
			if ran[id] != 1 {
				t.Fatalf("round %d: acknowledged command %s has no event", round, id)
			}
		}
		if pending == 0 && round == *crashRounds-1 && total == 0 {
			t.Errorf("no round left an accepted command unfinished: the test proved nothing")
		}
		total += pending
		t.Logf("round %d: %d acknowledged in all, %d accepted but unfinished at the kill, %d commands ran", round, len(acked), pending, len(ran))
		e.close()
	}
}
