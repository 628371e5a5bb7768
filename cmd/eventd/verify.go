package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/eventd/eventd/engine"
	"github.com/eventd/eventd/segment"
)

// runVerify is `eventd verify`: an offline check of every record of every
// segment in the data dir (the daemon must be stopped). Exit 0: clean;
// 1: corruption (file and offset printed) or the check could not run;
// 2: bad flags.
func runVerify(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", "./data", "data directory to check")
	fs.Usage = usageWithEnv(fs, "Usage: eventd verify [--data-dir DIR]\n\nChecks every record of every segment (checksums, framing, positions) and prints a summary.\nRun it while the daemon is stopped. Exits non-zero on corruption.")
	if err := parseFlags(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	logDir := engine.Layout{Dir: *dataDir}.Log()
	if st, err := os.Stat(logDir); err != nil || !st.IsDir() {
		fmt.Fprintf(stderr, "eventd verify: %s: no log directory (is --data-dir right?)\n", logDir)
		return 1
	}
	rep, err := segment.Verify(logDir, segment.Options{})
	fmt.Fprintf(stdout, "eventd verify %s\n%s", logDir, formatReport(&rep))
	if err != nil {
		fmt.Fprintf(stdout, "FAILED: the check could not finish: %v\n", err)
		return 1
	}
	if !rep.OK() {
		fmt.Fprintf(stdout, "CORRUPT: %d problem(s)\n", len(rep.Problems))
		return 1
	}
	fmt.Fprintln(stdout, "OK")
	return 0
}

// formatReport prints a verify report.
func formatReport(r *segment.Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "segments: %d\nframes:   %d\nrecords:  %d\n", r.Segments, r.Frames, r.Records)
	if r.Records > 0 {
		fmt.Fprintf(&b, "positions: %d..%d\n", r.FirstPosition, r.LastPosition)
	}
	fmt.Fprintf(&b, "bytes:    %d\n", r.Bytes)
	if r.TornTail > 0 {
		fmt.Fprintf(&b, "torn tail: %d bytes after the last good frame (never acknowledged; cut off at the next start)\n", r.TornTail)
	}
	for _, p := range r.Problems {
		fmt.Fprintf(&b, "problem: %s at offset %d: %v\n", p.File, p.Offset, p.Err)
	}
	return b.String()
}
