package server

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// ConnLimiter caps the client connections the daemon holds open (each is
// a file descriptor) at the listener: --max-connections.
//
// A connection accepted while max are open takes the place of the longest
// idle keep-alive connection, which is closed. With none idle, it goes to
// one of a few spare slots, where it is answered and closed: GET or HEAD
// /health and GET /metrics are served as usual (an operator can still see
// what is going on), anything else gets 503 unavailable with Retry-After;
// a spare connection must be done within SpareTimeout. With the spare
// slots taken too, it is closed at once. Nothing waits in the accept queue
// meanwhile: a client either gets an answer or a closed connection.
//
// Serve with it as the http.Server's listener, and set the server's
// ConnState and ConnContext to the limiter's and its Handler to Handler(…).
type ConnLimiter struct {
	net.Listener
	max int
	opt LimitOptions

	mu        sync.Mutex
	open      int // connections counted against max
	spareOpen int
	idle      map[*limitedConn]time.Time // keep-alive connections between requests, since
	lastWarn  time.Time
}

// LimitOptions tune a ConnLimiter; the zero value works.
type LimitOptions struct {
	Spare        int           // spare slots over max; default 16
	SpareTimeout time.Duration // a spare connection's deadline; default 5 s
	Logger       *slog.Logger  // warnings; default slog.Default()
	AccessLog    *slog.Logger  // lines for the 503s (as Config.AccessLog); nil: none
	Metrics      *Metrics      // nil: not counted
}

// LimitListener returns ln capped at max open connections.
func LimitListener(ln net.Listener, max int, o LimitOptions) *ConnLimiter {
	if o.Spare <= 0 {
		o.Spare = 16
	}
	if o.SpareTimeout <= 0 {
		o.SpareTimeout = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics()
	}
	o.Metrics.connsMax.Set(float64(max))
	return &ConnLimiter{Listener: ln, max: max, opt: o, idle: map[*limitedConn]time.Time{}}
}

// SetMax changes the cap (the daemon serves before its store is open, and
// the default cap counts the store's files). Connections over a lowered
// cap are not closed; new ones wait for the count to fall under it.
func (l *ConnLimiter) SetMax(max int) {
	l.mu.Lock()
	l.max = max
	l.mu.Unlock()
	l.opt.Metrics.connsMax.Set(float64(max))
}

func (l *ConnLimiter) maxConns() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.max
}

// limitedConn is a connection counted by its ConnLimiter.
type limitedConn struct {
	net.Conn
	l     *ConnLimiter
	spare bool
	// end is a spare connection's deadline: the server's own deadlines
	// (ReadHeaderTimeout, none once the headers are read) cannot pass it.
	end time.Time
	// released: its slot was given back (by Close, or passed on to a new
	// connection when it was closed for being idle). Guarded by l.mu.
	released bool
}

func (c *limitedConn) SetDeadline(t time.Time) error { return c.Conn.SetDeadline(c.clamp(t)) }

func (c *limitedConn) SetReadDeadline(t time.Time) error {
	return c.Conn.SetReadDeadline(c.clamp(t))
}

func (c *limitedConn) SetWriteDeadline(t time.Time) error {
	return c.Conn.SetWriteDeadline(c.clamp(t))
}

func (c *limitedConn) clamp(t time.Time) time.Time {
	if c.spare && (t.IsZero() || t.After(c.end)) {
		return c.end
	}
	return t
}

func (c *limitedConn) Close() error {
	c.l.release(c)
	return c.Conn.Close()
}

func (l *ConnLimiter) release(c *limitedConn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.released {
		return
	}
	c.released = true
	if c.spare {
		l.spareOpen--
		return
	}
	delete(l.idle, c)
	l.open--
	l.opt.Metrics.conns.Set(float64(l.open))
}

// Accept returns the next connection within the cap (see ConnLimiter).
func (l *ConnLimiter) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		l.mu.Lock()
		if l.open < l.max {
			l.open++
			l.opt.Metrics.conns.Set(float64(l.open))
			l.mu.Unlock()
			return &limitedConn{Conn: c, l: l}, nil
		}
		if v := l.oldestIdleLocked(); v != nil {
			v.released = true // its slot passes to c
			delete(l.idle, v)
			l.mu.Unlock()
			l.opt.Metrics.connsReclaimed.Inc() // counted before anyone sees the close
			_ = v.Conn.Close()                 // the server's wait for its next request ends
			return &limitedConn{Conn: c, l: l}, nil
		}
		if l.spareOpen < l.opt.Spare {
			l.spareOpen++
			l.mu.Unlock()
			lc := &limitedConn{Conn: c, l: l, spare: true, end: time.Now().Add(l.opt.SpareTimeout)}
			_ = lc.SetDeadline(lc.end)
			l.opt.Metrics.connsRefused.WithLabelValues("busy").Inc()
			l.warn()
			return lc, nil
		}
		l.mu.Unlock()
		l.opt.Metrics.connsRefused.WithLabelValues("closed").Inc() // counted before the client sees the close
		_ = c.Close()
		l.warn()
	}
}

func (l *ConnLimiter) oldestIdleLocked() *limitedConn {
	var v *limitedConn
	var since time.Time
	for c, t := range l.idle {
		if v == nil || t.Before(since) {
			v, since = c, t
		}
	}
	return v
}

// warn logs, at most every 10 s, that the cap is reached.
func (l *ConnLimiter) warn() {
	l.mu.Lock()
	now := time.Now()
	if now.Sub(l.lastWarn) < 10*time.Second {
		l.mu.Unlock()
		return
	}
	l.lastWarn = now
	open, spare, max := l.open, l.spareOpen, l.max
	l.mu.Unlock()
	l.opt.Logger.Warn("connection limit reached: new connections get 503 or are closed", "maxConnections", max, "open", open, "spareInUse", spare)
}

// asLimited finds the limitedConn under c (a *tls.Conn wraps it).
func asLimited(c net.Conn) *limitedConn {
	for {
		switch x := c.(type) {
		case *limitedConn:
			return x
		case interface{ NetConn() net.Conn }:
			c = x.NetConn()
		default:
			return nil
		}
	}
}

// ConnState is for http.Server.ConnState: it tracks the idle connections.
func (l *ConnLimiter) ConnState(c net.Conn, st http.ConnState) {
	lc := asLimited(c)
	if lc == nil || lc.spare {
		return
	}
	l.mu.Lock()
	if st == http.StateIdle && !lc.released {
		l.idle[lc] = time.Now()
	} else {
		delete(l.idle, lc)
	}
	l.mu.Unlock()
}

type spareKey struct{}

// ConnContext is for http.Server.ConnContext: it marks the requests of a
// spare connection.
func (l *ConnLimiter) ConnContext(ctx context.Context, c net.Conn) context.Context {
	if lc := asLimited(c); lc != nil && lc.spare {
		return context.WithValue(ctx, spareKey{}, true)
	}
	return ctx
}

// Handler wraps h: on a spare connection it serves only /health and
// /metrics, answers 503 to the rest, and closes the connection after.
func (l *ConnLimiter) Handler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Context().Value(spareKey{}) == nil {
			h.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Connection", "close")
		if isOperatorRoute(r) {
			h.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		a := &accessWriter{ResponseWriter: w}
		a.Header().Set("Retry-After", "1")
		writeError(a, errf(http.StatusServiceUnavailable, codeUnavailable, "the server has "+strconv.Itoa(l.maxConns())+" connections open, its limit (--max-connections): retry later"))
		if l.opt.AccessLog != nil {
			writeAccessLine(l.opt.AccessLog, r, a.status, "", "", a.bytes, start)
		}
	})
}

// isOperatorRoute: the routes a spare connection may use.
func isOperatorRoute(r *http.Request) bool {
	switch r.URL.Path {
	case "/health", "/metrics":
		return r.Method == http.MethodGet || r.Method == http.MethodHead
	}
	return false
}
