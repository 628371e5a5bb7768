package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/eventd/eventd/bench"
)

const benchUsage = `Usage: eventd bench [flags]

Load generator for the HTTP API. With --url it drives that daemon (loopback
only); without, it starts "eventd serve" on a free 127.0.0.1 port and a
temporary data directory (with --fsync and any --server-arg, and no EVENTD_*
environment variables), runs, then stops the daemon with SIGTERM and removes
the directory.

Modes (--mode; every timed phase runs for --duration, or for --events,
never past --max-duration):
  append      appends (POST /api/events, or batches with --batch); --schema
              first registers a 10-field JSON Schema for the run's event type
              and sends matching eventData, --schema-fields sends the same
              eventData without a schema (the baseline)
  read        (also --read) seeds --seed events, then stream pages, $all
              pages, replay, SSE catch-up of $all and of streams
  commands    sync CreateUser commands (POST /api/commands, a new user each),
              then single-event appends; reports commands/s ÷ appends/s
  projection  seeds --seed events; times a count projection (and a state one
              with --projection-state) catching up from the beginning; then
              appends at full speed while sampling, every --lag-interval, the
              time from an append's 201 until the projection has processed it
  ryw         read-your-writes: an append (or, with --ryw-command, a command)
              then GET /api/queries/{id}?key=&minPosition= on a state
              projection; the pair's latency
  query       seeds --keys items into a state projection and looks up random
              keys; then seeds --where-items items and lists where=grp:gN
              (limit 10000) with --where-concurrency workers
Projections a run creates are deleted at its end.

A progress line goes to stderr once a second; the report (a table, or JSON
with --json) goes to stdout. Invalid flags exit with status 2; a run with
errors, or one that could not start, exits with 1.

Examples:
  eventd bench --concurrency 64 --batch 1 --duration 10s
  eventd bench --concurrency 16 --batch 100 --events 1000000
  eventd bench --read --seed 200000 --duration 5s
  eventd bench --mode commands --concurrency 64 --duration 10s
  eventd bench --mode projection --seed 1000000 --projection-state --duration 10s
  eventd bench --mode ryw --concurrency 16 --duration 10s
  eventd bench --mode query --keys 10000 --where-items 100000 --duration 5s
  eventd bench --schema --duration 10s; eventd bench --schema-fields --duration 10s
  eventd bench --url http://127.0.0.1:2113 --json

Flags:
`

// benchStringList is a repeatable string flag.
type benchStringList []string

func (l *benchStringList) String() string { return strings.Join(*l, " ") }
func (l *benchStringList) Set(s string) error {
	*l = append(*l, s)
	return nil
}

// benchFlags are `eventd bench`'s own flags, on top of the generator's.
type benchFlags struct {
	cfg           bench.Config
	fsync         string
	fsyncInterval time.Duration
	serverArgs    benchStringList
	startTimeout  time.Duration
	out           string
	target        string
}

func parseBenchFlags(args []string, stderr io.Writer) (*benchFlags, error) {
	f := &benchFlags{}
	fs := flag.NewFlagSet("eventd bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, benchUsage)
		fs.PrintDefaults()
	}
	f.cfg.RegisterFlags(fs)
	fs.StringVar(&f.fsync, "fsync", "always", "without --url: the daemon's fsync policy (always, interval, never)")
	fs.DurationVar(&f.fsyncInterval, "fsync-interval", 0, "without --url: the daemon's --fsync-interval (default: the daemon's)")
	fs.Var(&f.serverArgs, "server-arg", "without --url: one more `arg`ument for eventd serve (repeatable), e.g. --server-arg=--max-body=64MiB")
	fs.DurationVar(&f.startTimeout, "start-timeout", 30*time.Second, "without --url: how long to wait for the daemon's /health")
	fs.StringVar(&f.out, "out", "", "also write the JSON report to this file")
	fs.StringVar(&f.target, "target", "daemon", "without --url: what to start and drive: daemon (eventd serve) or stub (eventd stub: a no-op HTTP target that answers appends without storing them, the HTTP ceiling)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	var errs []error
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected argument %q", fs.Arg(0)))
	}
	if err := f.cfg.Validate(); err != nil {
		errs = append(errs, err)
	}
	switch f.fsync {
	case "always", "interval", "never":
	default:
		errs = append(errs, fmt.Errorf("--fsync must be always, interval or never, got %q", f.fsync))
	}
	switch {
	case f.target != "daemon" && f.target != "stub":
		errs = append(errs, fmt.Errorf("--target must be daemon or stub, got %q", f.target))
	case f.target == "stub" && f.cfg.Mode != bench.ModeAppend:
		errs = append(errs, fmt.Errorf("--target stub answers appends only: use it with --mode append"))
	}
	if f.fsyncInterval < 0 {
		errs = append(errs, fmt.Errorf("--fsync-interval must be positive, got %s", f.fsyncInterval))
	}
	if f.startTimeout <= 0 {
		errs = append(errs, fmt.Errorf("--start-timeout must be positive, got %s", f.startTimeout))
	}
	if f.cfg.URL != "" || f.cfg.Mode == bench.ModeFsync {
		fs.Visit(func(fl *flag.Flag) {
			switch fl.Name {
			case "fsync", "fsync-interval", "server-arg", "start-timeout", "target":
				errs = append(errs, fmt.Errorf("--%s applies only to a daemon bench starts itself: drop it or drop --url", fl.Name))
			}
		})
	}
	return f, errors.Join(errs...)
}

// serverArgs are the flags passed to `eventd serve`.
func (f *benchFlags) serverArgList() []string {
	args := []string{"--fsync", f.fsync}
	if f.fsyncInterval > 0 {
		args = append(args, "--fsync-interval", f.fsyncInterval.String())
	}
	return append(args, f.serverArgs...)
}

// runBench implements `eventd bench`.
func runBench(args []string) int {
	return benchMain(args, os.Stdout, os.Stderr)
}

func benchMain(args []string, stdout, stderr io.Writer) int {
	f, err := parseBenchFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "eventd bench: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if f.cfg.Mode == bench.ModeFsync {
		return fsyncProbe(f, stdout, stderr)
	}

	var daemon *bench.Daemon
	stopWatch := func() {}
	serverDesc := ""
	if f.cfg.URL == "" {
		exe, err := os.Executable()
		if err != nil {
			fmt.Fprintf(stderr, "eventd bench: %v\n", err)
			return 1
		}
		if f.target == "stub" {
			daemon, err = bench.StartStub(ctx, exe, f.startTimeout)
		} else {
			daemon, err = bench.StartDaemon(ctx, exe, f.serverArgList(), f.startTimeout)
		}
		if err != nil {
			fmt.Fprintf(stderr, "eventd bench: %v\n", err)
			return 1
		}
		f.cfg.URL = daemon.URL
		// A daemon that dies mid-run ends the run: the rest would be errors.
		runCtx, cancel := context.WithCancel(ctx)
		watchDone := make(chan struct{})
		stopWatch = func() { cancel(); <-watchDone }
		go func() {
			defer close(watchDone)
			select {
			case <-daemon.Exited():
				fmt.Fprintln(stderr, "eventd bench: the daemon exited during the run")
				cancel()
			case <-runCtx.Done():
			}
		}()
		ctx = runCtx
		serverDesc = "eventd " + strings.Join(daemon.Args, " ") + " (started by bench, temporary data dir)"
		if !f.cfg.Quiet {
			fmt.Fprintf(stderr, "bench: started eventd %s at %s\n", strings.Join(daemon.Args, " "), daemon.URL)
		}
	}

	rep, runErr := bench.Run(ctx, f.cfg, stderr)
	code := 0
	interrupted := ctx.Err() != nil
	stopWatch()
	if daemon != nil {
		if err := daemon.Stop(); err != nil {
			fmt.Fprintf(stderr, "eventd bench: %v\n", err)
			code = 1
		}
	}
	if runErr != nil {
		fmt.Fprintf(stderr, "eventd bench: %v\n", runErr)
		return 1
	}
	rep.Server = serverDesc
	if f.cfg.JSON {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteTable(stdout)
	}
	if err != nil {
		fmt.Fprintf(stderr, "eventd bench: %v\n", err)
		return 1
	}
	if f.out != "" {
		if err := writeBenchReport(f.out, rep); err != nil {
			fmt.Fprintf(stderr, "eventd bench: %v\n", err)
			return 1
		}
	}
	for _, p := range rep.Phases {
		if p.Errors > 0 {
			code = 1
		}
	}
	if interrupted {
		fmt.Fprintln(stderr, "eventd bench: interrupted; the report covers what ran")
		code = 1
	}
	return code
}

func writeBenchReport(path string, rep *bench.Report) error {
	file, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := rep.WriteJSON(file); err != nil {
		file.Close()
		return err
	}
	return file.Close()
}

// fsyncProbe is --mode fsync: no daemon, the disk under --probe-dir.
func fsyncProbe(f *benchFlags, stdout, stderr io.Writer) int {
	phases, err := bench.FsyncProbe(f.cfg.ProbeDir, max(f.cfg.Size, 1), f.cfg.Duration)
	if err != nil {
		fmt.Fprintf(stderr, "eventd bench: %v\n", err)
		return 1
	}
	rep := &bench.Report{StartedAt: time.Now().UTC(), Config: f.cfg, Phases: phases, GoMaxProcs: runtime.GOMAXPROCS(0), NumCPU: runtime.NumCPU(),
		Server: "none: write+fdatasync of one record in " + f.cfg.ProbeDir}
	rep.LoadAvg = bench.LoadAvg()
	if f.cfg.JSON {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteTable(stdout)
	}
	if err == nil && f.out != "" {
		err = writeBenchReport(f.out, rep)
	}
	if err != nil {
		fmt.Fprintf(stderr, "eventd bench: %v\n", err)
		return 1
	}
	return 0
}
