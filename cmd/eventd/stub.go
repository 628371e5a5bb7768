package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/eventd/eventd/bench"
)

// runStub implements `eventd stub`: the no-op HTTP target of `eventd bench
// --target stub`, for measuring what HTTP costs on a machine.
func runStub(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("stub", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:2114", "address to serve on")
	fs.Usage = usageWithEnv(fs, "Usage: eventd stub [flags]\n\nServes a no-op HTTP target: it reads each append (POST /api/events, POST\n/api/streams/{id}/events) and answers 201 like the daemon, storing nothing and\nsyncing nothing; GET /health answers 200. `eventd bench --target stub` drives it\nto measure the HTTP ceiling of this machine (see BENCHMARKS.md).")
	if err := parseFlags(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(stderr, "eventd stub:", err)
		return 1
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() { <-sigs; ln.Close() }()
	if err := bench.ServeStub(ln); err != nil && !errors.Is(err, net.ErrClosed) {
		fmt.Fprintln(stderr, "eventd stub:", err)
		return 1
	}
	return 0
}
