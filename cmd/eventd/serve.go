package main

import (
	"context"
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
	"syscall"
	"time"

	"eventd/engine"
	"eventd/server"
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
	if (*tlsCert == "") != (*tlsKey == "") {
		fmt.Fprintln(stderr, "eventd: --tls-cert and --tls-key go together")
		return 2
	}
	log := sf.logger(stderr)
	slog.SetDefault(log)

	var keys *server.Keys
	if *authKeys != "" {
		var err error
		if keys, err = server.LoadKeys(*authKeys); err != nil {
			fmt.Fprintln(stderr, "eventd: --auth-keys:", err)
			return 2
		}
	}

	metrics := server.NewMetrics()
	opts := sf.options(log)
	opts.Observer = metrics
	started := time.Now()
	store, err := engine.Open(sf.dataDir, opts)
	if err != nil {
		log.Error("cannot open the store", "dataDir", sf.dataDir, "err", err)
		return 1
	}
	log.Debug("store open", "dataDir", sf.dataDir, "head", store.Head(), "fsync", store.Policy(), "took", time.Since(started).Round(time.Millisecond))

	api := server.New(store, server.Config{
		MaxBody:      int64(maxBody),
		MaxEventSize: int(sf.maxEventSize),
		Auth:         keys,
		Metrics:      metrics,
		Logger:       log,
	})
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Error("cannot listen", "addr", *listen, "err", err)
		_ = store.Close()
		return 1
	}
	hs := &http.Server{
		Handler:           api,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	errc := make(chan error, 2)
	go func() {
		if *tlsCert != "" {
			errc <- hs.ServeTLS(ln, *tlsCert, *tlsKey)
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
	if *pprofAddr != "" {
		mux := http.NewServeMux()
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		pl, err := net.Listen("tcp", *pprofAddr)
		if err != nil {
			log.Error("cannot listen for pprof", "addr", *pprofAddr, "err", err)
			_ = hs.Close()
			_ = store.Close()
			return 1
		}
		ps = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = ps.Serve(pl) }()
		log.Info("pprof listening", "addr", pl.Addr().String())
	}

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
	if err := store.Close(); err != nil {
		log.Error("closing the store", "err", err)
		return 1
	}
	log.Info("stopped")
	return status
}
