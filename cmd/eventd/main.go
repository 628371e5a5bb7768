// Command eventd is the event store daemon.
//
//	eventd [serve] [flags]   run the daemon (the default)
//	eventd verify [flags]    check every record of every segment, offline
//	eventd dump [flags]      print a segment file's or a stream's records
//	eventd bench [flags]     load generator (see BENCHMARKS.md)
//	eventd stub [flags]      no-op HTTP target for the load generator
//
// Every flag has an EVENTD_* environment twin (--data-dir: EVENTD_DATA_DIR);
// the command line wins. Bad flag values exit with status 2.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
)

const topUsage = `eventd — an event store daemon

Usage:
  eventd [serve] [flags]   run the daemon (default: --data-dir ./data --listen 127.0.0.1:2113)
  eventd verify [flags]    check every record of every segment (daemon stopped); non-zero exit on corruption
  eventd dump [flags]      print records of a segment file or of a stream (daemon stopped)
  eventd bench [flags]     load generator against the HTTP API
  eventd stub [flags]      a no-op HTTP target for eventd bench (the HTTP ceiling)

  eventd --version         the module version and VCS revision of this binary

Run "eventd <command> --help" for a command's flags.
`

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run dispatches a subcommand and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		return runServe(nil, stderr)
	}
	switch args[0] {
	case "serve":
		return runServe(args[1:], stderr)
	case "verify":
		return runVerify(args[1:], stdout, stderr)
	case "dump":
		return runDump(args[1:], stdout, stderr)
	case "bench":
		return runBench(args[1:])
	case "stub":
		return runStub(args[1:], stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, topUsage)
		return 0
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, versionString())
		return 0
	}
	if len(args[0]) > 0 && args[0][0] == '-' {
		return runServe(args, stderr) // flags without a command: serve
	}
	fmt.Fprintf(stderr, "eventd: unknown command %q\n\n%s", args[0], topUsage)
	return 2
}

// versionString is the module version and the VCS revision the binary was
// built from (debug.ReadBuildInfo): "eventd v1.2.3 (rev abc123, 2026-…)",
// "(devel)" for a build from a work tree.
func versionString() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "eventd (no build information)"
	}
	v := "eventd " + bi.Main.Version
	var rev, at, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = ", modified"
			}
		}
	}
	if rev != "" {
		v += " (rev " + rev + ", " + at + dirty + ")"
	}
	return v + " " + bi.GoVersion
}
