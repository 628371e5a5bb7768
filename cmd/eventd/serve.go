package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/eventd/eventd/engine"
	"github.com/eventd/eventd/engine/snapshot"
	"github.com/eventd/eventd/server"
)

// shutdownTimeout bounds how long in-flight requests may take to finish.
const shutdownTimeout = 30 * time.Second

func runServe(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var sf storeFlags
	sf.register(fs)
	maxBody := byteSize(4 << 20)
	listen := fs.String("listen", "127.0.0.1:2113", "address to serve the HTTP API on")
	fs.Var(&maxBody, "max-body", "largest request body (413 above)")
	authKeys := fs.String("auth-keys", "", "file of API keys, one \"key role\" per line (roles: read, write, admin); empty: auth off")
	tlsCert := fs.String("tls-cert", "", "TLS certificate file (with --tls-key): serve HTTPS")
	tlsKey := fs.String("tls-key", "", "TLS private key file (with --tls-cert)")
	pprofAddr := fs.String("pprof", "", "serve net/http/pprof on this separate address (e.g. 127.0.0.1:6060); empty: off")
	snapEvery := fs.Int("snapshot-every", 100, "take a snapshot of a stream every this many events, in the background (0: off)")
	snapAfter := fs.Duration("snapshot-after", 20*time.Millisecond, "also take one after a replay slower than this (0: off)")
	snapRetain := fs.Int("snapshot-retain", 3, "snapshots kept per stream and reducer (the last taken)")
	maxConns := fs.Int("max-connections", 0, "most client connections open at once; past it the longest-idle keep-alive connection is closed, else a few spare slots answer /health, /metrics and 503, else new connections are closed (0: min(4096, the open-file limit minus a reserve for the store))")
	sseWriteTimeout := positiveDuration(30 * time.Second)
	fs.Var(&sseWriteTimeout, "sse-write-timeout", "drop an SSE subscriber that accepts no bytes for this long (it reconnects with Last-Event-ID)")
	sseMemory := byteSize(256 << 20)
	fs.Var(&sseMemory, "sse-memory", "memory all SSE subscribers may hold at once (events read, not yet written); past it they wait")
	corsOrigins := fs.String("cors-origins", "", "origins browser apps may call the API from: a comma list of scheme://host[:port], or * for any; empty: no CORS headers (same-origin only)")
	accessLog := fs.String("access-log", "off", "access log: off, stderr, or a file to append to; one line per request (method, route pattern, status, duration, bytes, key fingerprint, remote address), never paths, keys or bodies")
	fs.Usage = usageWithEnv(fs, "Usage: eventd [serve] [flags]\n\nRuns the daemon: the REST API of docs/api.md over the store in --data-dir.")
	if err := parseFlags(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if err := sf.check(); err != nil {
		fmt.Fprintln(stderr, "eventd:", err)
		return 2
	}
	if *snapEvery < 0 || *snapAfter < 0 || *snapRetain < 1 {
		fmt.Fprintln(stderr, "eventd: --snapshot-every and --snapshot-after must be ≥ 0, --snapshot-retain ≥ 1")
		return 2
	}
	if (*tlsCert == "") != (*tlsKey == "") {
		fmt.Fprintln(stderr, "eventd: --tls-cert and --tls-key go together")
		return 2
	}
	if *maxConns < 0 {
		fmt.Fprintln(stderr, "eventd: --max-connections must be ≥ 0 (0: automatic)")
		return 2
	}
	origins, err := server.ParseCORSOrigins(*corsOrigins)
	if err != nil {
		fmt.Fprintln(stderr, "eventd: --cors-origins:", err)
		return 2
	}
	var tlsConf *tls.Config
	if *tlsCert != "" {
		cert, err := tls.LoadX509KeyPair(*tlsCert, *tlsKey)
		if err != nil {
			fmt.Fprintln(stderr, "eventd: --tls-cert/--tls-key:", err)
			return 2
		}
		tlsConf = &tls.Config{Certificates: []tls.Certificate{cert}}
	}
	// The listeners are bound before anything touches the disk: a bad
	// address or a port in use stops the start (exit 2) with no data dir
	// created.
	tcp, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(stderr, "eventd: --listen:", err)
		return 2
	}
	defer tcp.Close() // (Serve closes it too; a second Close is harmless)
	var pl net.Listener
	if *pprofAddr != "" {
		if pl, err = net.Listen("tcp", *pprofAddr); err != nil {
			fmt.Fprintln(stderr, "eventd: --pprof:", err)
			return 2
		}
		defer pl.Close()
	}
	log := sf.logger(stderr)
	slog.SetDefault(log)
	access, closeAccess, err := accessLogger(*accessLog, sf.logFormat.val, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "eventd: --access-log:", err)
		return 2
	}
	defer closeAccess()
	nofile, nofileWas, err := raiseFileLimit()
	if err != nil {
		log.Warn("cannot raise the open-file limit (RLIMIT_NOFILE) to its hard limit", "limit", nofile, "err", err)
	}

	var keys *server.Keys
	if *authKeys != "" {
		var err error
		if keys, err = server.LoadKeys(*authKeys); err != nil {
			fmt.Fprintln(stderr, "eventd: --auth-keys:", err)
			return 2
		}
	}

	// Serve at once: until the store and the subsystems are open (a full
	// --verify-on-start or an index rebuild can take minutes) every request
	// is answered 503 "starting" with Retry-After (server.Starting) rather
	// than left hanging; then the API's handler takes over, in the same
	// http.Server.
	metrics := server.NewMetrics()
	conns, _ := connectionCap(*maxConns, nofile, 0) // the store's segments are counted once it is open
	ln := server.LimitListener(tcp, conns, server.LimitOptions{Logger: log, AccessLog: access, Metrics: metrics})
	var handler swapHandler
	handler.set(server.Starting(access))
	hs := &http.Server{
		Handler:           ln.Handler(&handler),
		ConnState:         ln.ConnState,
		ConnContext:       ln.ConnContext,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		TLSConfig:         tlsConf,
	}
	errc := make(chan error, 2)
	go func() {
		if *tlsCert != "" {
			errc <- hs.ServeTLS(ln, "", "") // the pair loaded above
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	scheme := "http"
	if *tlsCert != "" {
		scheme = "https"
	}
	log.Info("listening", "addr", ln.Addr().String(), "scheme", scheme, "auth", keys != nil)

	var ps *http.Server
	if pl != nil {
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		ps = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = ps.Serve(pl) }()
		log.Info("pprof listening", "addr", pl.Addr().String())
	}
	stopServing := func() {
		_ = hs.Close()
		if ps != nil {
			_ = ps.Close()
		}
	}
	startGate() // tests only: hold the start here (EVENTD_TESTHOOK_START_GATE)

	opts := sf.options(log)
	opts.Observer = metrics
	started := time.Now()
	store, err := engine.Open(sf.dataDir, opts)
	if err != nil {
		log.Error("cannot open the store", "dataDir", sf.dataDir, "err", err)
		stopServing()
		return 1
	}
	log.Debug("store open", "dataDir", sf.dataDir, "head", store.Head(), "fsync", store.Policy(), "took", time.Since(started).Round(time.Millisecond))
	ss, err := openSubsystems(store, sf.dataDir, snapshotOptions(*snapEvery, *snapAfter, *snapRetain), log)
	if err != nil {
		log.Error("cannot start", "err", err)
		stopServing()
		_ = store.Close()
		return 1
	}
	closeAll := func() error { return errors.Join(ss.close(), store.Close()) }

	api := server.New(serverStore{store, ss.db}, server.Config{
		MaxBody:         int64(maxBody),
		MaxEventSize:    int(sf.maxEventSize),
		Auth:            keys,
		Metrics:         metrics,
		Logger:          log,
		Reducers:        ss.reducers,
		Commands:        ss.commands,
		Projections:     ss.projections,
		Schemas:         ss.schemas,
		Snapshots:       ss.snapshots,
		TotalCommands:   ss.totalCommands,
		SSEWriteTimeout: time.Duration(sseWriteTimeout),
		SSEMemory:       int64(sseMemory),
		AccessLog:       access,
		CORSOrigins:     origins,
	})
	conns, reserve := connectionCap(*maxConns, nofile, store.Stats().Segments)
	ln.SetMax(conns)
	fdAttrs := []any{"limit", nofile, "maxConnections", conns, "reservedForStore", reserve}
	if nofileWas != nofile {
		fdAttrs = append(fdAttrs, "raisedFrom", nofileWas)
	}
	log.Info("file descriptors (RLIMIT_NOFILE)", fdAttrs...)
	if avail := int64(min(nofile, 1<<30)) - int64(reserve); nofile > 0 && int64(conns) > avail {
		log.Warn("--max-connections leaves too few file descriptors for the store: raise the hard RLIMIT_NOFILE or lower it", "maxConnections", conns, "limit", nofile, "reservedForStore", reserve)
	}
	handler.set(api)
	log.Info("started", "took", time.Since(started).Round(time.Millisecond))

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	status := 0
	select {
	case sig := <-sigs:
		log.Info("shutting down", "signal", sig.String())
	case err := <-errc:
		log.Error("HTTP server stopped", "err", err)
		status = 1
	}
	go func() { // a second signal: exit at once
		sig := <-sigs
		log.Warn("second signal: exiting now", "signal", sig.String())
		os.Exit(1)
	}()

	api.CloseStreams() // SSE answers end; Shutdown then waits for the rest
	ctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(ctx); err != nil {
		log.Warn("in-flight requests did not finish in time", "err", err)
		_ = hs.Close()
	}
	if ps != nil {
		_ = ps.Close()
	}
	if err := closeAll(); err != nil {
		log.Error("closing the store", "err", err)
		return 1
	}
	log.Info("stopped")
	return status
}

// swapHandler serves the handler set last: server.Starting, then the API.
type swapHandler struct{ h atomic.Pointer[http.Handler] }

func (s *swapHandler) set(h http.Handler) { s.h.Store(&h) }

func (s *swapHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	(*s.h.Load()).ServeHTTP(w, r)
}

// startGate holds the start, after the listeners serve and before the
// store is opened, while the file EVENTD_TESTHOOK_START_GATE names exists:
// the tests' deterministic slow start. Unset (always, outside tests):
// nothing.
func startGate() {
	gate := os.Getenv("EVENTD_TESTHOOK_START_GATE")
	for gate != "" {
		if _, err := os.Stat(gate); err != nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// raiseFileLimit raises the soft RLIMIT_NOFILE to the hard limit: every
// connection, segment and pebble table is a file descriptor. (The Go
// runtime does the same at start since Go 1.19; this makes it explicit
// and reports it.) It returns the limit in force and the one found.
func raiseFileLimit() (limit, was uint64, err error) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return 0, 0, err
	}
	was = uint64(rl.Cur)
	if rl.Cur < rl.Max {
		want := rl
		want.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
			return was, was, err
		}
		rl = want
	}
	return uint64(rl.Cur), was, nil
}

// Defaults of --max-connections (0): at most maxConnsAuto, and the
// open-file limit less storeFDReserve and the log's segments (pebble keeps
// up to 1000 tables open; segments, checkpoints, the access log and the
// listeners take the rest).
const (
	maxConnsAuto   = 4096
	storeFDReserve = 1024
)

// connectionCap is the --max-connections in force (flag 0: automatic) and
// the file descriptors reserved for the store.
func connectionCap(flag int, nofile uint64, segments int) (conns, reserve int) {
	reserve = storeFDReserve + segments
	if flag > 0 {
		return flag, reserve
	}
	if nofile == 0 { // unknown
		return maxConnsAuto, reserve
	}
	limit := int64(min(nofile, 1<<30))
	n := min(limit-int64(reserve), maxConnsAuto)
	if n < 64 { // a low limit: share it
		n = max(limit/2, 16)
	}
	return int(n), reserve
}

// accessLogger opens the --access-log destination: nil for off; stderr, or
// a file opened for appending (rotate it with copytruncate). Lines use
// --log-format, at any --log-level.
func accessLogger(dest, format string, stderr io.Writer) (*slog.Logger, func(), error) {
	var w io.Writer
	closeFn := func() {}
	switch dest {
	case "", "off":
		return nil, closeFn, nil
	case "stderr":
		w = stderr
	default:
		f, err := os.OpenFile(dest, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			return nil, nil, err
		}
		w, closeFn = f, func() { _ = f.Close() }
	}
	opts := &slog.HandlerOptions{Level: slog.LevelInfo}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts)), closeFn, nil
	}
	return slog.New(slog.NewTextHandler(w, opts)), closeFn, nil
}

// snapshotOptions maps the flags (0: off) to snapshot.Options (0: default,
// negative: off).
func snapshotOptions(every int, after time.Duration, retain int) snapshot.Options {
	o := snapshot.Options{Every: every, After: after, Retain: retain}
	if every == 0 {
		o.Every = -1
	}
	if after == 0 {
		o.After = -1
	}
	return o
}
