package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/eventd/eventd/engine"
)

// byteSize is a size flag: bytes ("65536") or a binary suffix ("64KiB",
// "4MiB", "1GiB").
type byteSize int64

func parseSize(s string) (int64, error) {
	mult := int64(1)
	num := s
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			num, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || num == "" || num[0] == '+' {
		return 0, fmt.Errorf("invalid size %q: want a positive number of bytes, or one with a KiB, MiB or GiB suffix (e.g. 4MiB)", s)
	}
	if n > (1<<62)/mult {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return n * mult, nil
}

func (b *byteSize) Set(s string) error {
	n, err := parseSize(s)
	if err != nil {
		return err
	}
	*b = byteSize(n)
	return nil
}

func (b *byteSize) String() string { return formatSize(int64(*b)) }

func formatSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + "GiB"
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + "KiB"
	}
	return strconv.FormatInt(n, 10)
}

// choice is a flag whose value is one of a fixed set.
type choice struct {
	val     string
	allowed []string
}

func (c *choice) Set(s string) error {
	for _, a := range c.allowed {
		if s == a {
			c.val = s
			return nil
		}
	}
	return fmt.Errorf("want one of %s", strings.Join(c.allowed, ", "))
}

func (c *choice) String() string { return c.val }

// positiveDuration is a duration flag that must be > 0.
type positiveDuration time.Duration

func (d *positiveDuration) Set(s string) error {
	v, err := time.ParseDuration(s)
	if err != nil || v <= 0 {
		return fmt.Errorf("invalid duration %q: want a positive Go duration such as 10ms or 10m", s)
	}
	*d = positiveDuration(v)
	return nil
}

func (d *positiveDuration) String() string { return time.Duration(*d).String() }

// storeFlags are the flags every subcommand that opens the store shares.
type storeFlags struct {
	dataDir        string
	fsync          choice
	fsyncInterval  positiveDuration
	segmentSize    byteSize
	maxBatchBytes  byteSize
	maxBatchEvents int
	dedupeWindow   positiveDuration
	maxEventSize   byteSize
	verifyOnStart  choice
	repair         bool
	logFormat      choice
	logLevel       choice
}

func (f *storeFlags) register(fs *flag.FlagSet) {
	f.fsync = choice{"always", []string{"always", "interval", "never"}}
	f.fsyncInterval = positiveDuration(10 * time.Millisecond)
	f.segmentSize = 256 << 20
	f.maxBatchBytes = 4 << 20
	f.maxBatchEvents = 10000
	f.dedupeWindow = positiveDuration(10 * time.Minute)
	f.maxEventSize = 1 << 20
	f.verifyOnStart = choice{"tail", []string{"tail", "full"}}
	f.logFormat = choice{"text", []string{"text", "json"}}
	f.logLevel = choice{"info", []string{"debug", "info", "warn", "error"}}

	fs.StringVar(&f.dataDir, "data-dir", "./data", "data directory (log, index checkpoint, LOCK)")
	fs.Var(&f.fsync, "fsync", "fsync policy: always (fsync before answering), interval, or never")
	fs.Var(&f.fsyncInterval, "fsync-interval", "fsync period for --fsync=interval")
	fs.Var(&f.segmentSize, "segment-size", "segment file size before rolling to a new one")
	fs.Var(&f.maxBatchBytes, "max-batch-bytes", "a group-commit batch is cut at this many bytes")
	fs.IntVar(&f.maxBatchEvents, "max-batch-events", f.maxBatchEvents, "a group-commit batch is cut at this many events (≥ 1; an append holding more is written as a batch of its own)")
	fs.Var(&f.dedupeWindow, "dedupe-window", "how long client event ids are remembered for idempotency")
	fs.Var(&f.maxEventSize, "max-event-size", "largest eventData+metadata of one event (413 above)")
	fs.Var(&f.verifyOnStart, "verify-on-start", "tail: recover the tail, scrub sealed segments in the background; full: check every segment before serving")
	fs.BoolVar(&f.repair, "repair", false, "with --verify-on-start=full: cut the log at corruption, keeping a .broken copy")
	fs.Var(&f.logFormat, "log-format", "log format: text or json")
	fs.Var(&f.logLevel, "log-level", "log level: debug, info, warn or error")
}

func (f *storeFlags) check() error {
	if f.maxBatchEvents < 1 {
		return errors.New("--max-batch-events must be ≥ 1")
	}
	if f.repair && f.verifyOnStart.val != "full" {
		return errors.New("--repair needs --verify-on-start=full")
	}
	return nil
}

func (f *storeFlags) options(log *slog.Logger) engine.Options {
	o := engine.Options{
		FsyncInterval:  time.Duration(f.fsyncInterval),
		SegmentSize:    int64(f.segmentSize),
		MaxBatchBytes:  int(f.maxBatchBytes),
		MaxBatchEvents: f.maxBatchEvents,
		MaxEventSize:   int(f.maxEventSize),
		DedupeWindow:   time.Duration(f.dedupeWindow),
		VerifyFull:     f.verifyOnStart.val == "full",
		Repair:         f.repair,
		Logger:         log,
	}
	switch f.fsync.val {
	case "interval":
		o.Fsync = engine.FsyncInterval
	case "never":
		o.Fsync = engine.FsyncNever
	default:
		o.Fsync = engine.FsyncAlways
	}
	return o
}

func (f *storeFlags) logger(w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(f.logLevel.val))
	opts := &slog.HandlerOptions{Level: lvl}
	if f.logFormat.val == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// envName is a flag's environment twin: --data-dir → EVENTD_DATA_DIR.
func envName(flagName string) string {
	return "EVENTD_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseFlags applies the EVENTD_* environment twins, then the command line
// (which wins). Errors are printed with the usage; the caller exits 2.
func parseFlags(fs *flag.FlagSet, args []string) error {
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		if envErr != nil {
			return
		}
		if v, ok := os.LookupEnv(envName(f.Name)); ok {
			if err := fs.Set(f.Name, v); err != nil {
				envErr = fmt.Errorf("invalid value %q for %s (twin of --%s): %v", v, envName(f.Name), f.Name, err)
			}
		}
	})
	if envErr != nil {
		fmt.Fprintln(fs.Output(), envErr)
		return envErr
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		err := fmt.Errorf("unexpected argument %q", fs.Arg(0))
		fmt.Fprintln(fs.Output(), err)
		return err
	}
	return nil
}

// usageWithEnv prints a flag set's usage, naming each flag's env twin.
func usageWithEnv(fs *flag.FlagSet, synopsis string) func() {
	return func() {
		w := fs.Output()
		fmt.Fprintf(w, "%s\n\nFlags (each has an environment twin; the command line wins):\n", synopsis)
		fs.VisitAll(func(f *flag.Flag) {
			def := ""
			if f.DefValue != "" && f.DefValue != "false" {
				def = " (default " + f.DefValue + ")"
			}
			fmt.Fprintf(w, "  --%s  [%s]\n      %s%s\n", f.Name, envName(f.Name), f.Usage, def)
		})
	}
}
