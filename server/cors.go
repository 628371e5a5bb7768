package server

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// CORS (Config.CORSOrigins, --cors-origins): browser apps served from
// another origin may call the API when their origin is listed (or the list
// is "*"). An allowed origin is echoed in Access-Control-Allow-Origin, with
// Vary: Origin; a preflight (OPTIONS with Access-Control-Request-Method) is
// answered 204 with the route's methods, the request headers the API reads
// and a Max-Age. A request from an origin not listed gets no CORS headers
// (the browser then keeps the answer from the page). The API's auth is a
// bearer key, never a cookie, so credentials are not allowed.

// Cross-origin writes: a browser sends a POST with a text/plain or form
// body, even in no-cors mode, without a preflight; CORS only keeps the
// answer from the page, the write would be done. So a request that may
// write (any method but GET, HEAD and OPTIONS) with an Origin header is
// refused (403 forbidden) unless that origin is allowed (--cors-origins)
// or is the daemon's own (Origin's host[:port] is the request's Host: the
// console at /ui/). Browsers send Origin on every such request; curl and
// the Go client send none. Without Origin, Sec-Fetch-Site cross-site or
// same-site (another origin) is refused too.

// crossOriginWrite returns the refusal of a write from another origin, or
// nil.
func (s *Server) crossOriginWrite(r *http.Request) *apiError {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		switch r.Header.Get("Sec-Fetch-Site") {
		case "cross-site", "same-site":
			return errf(http.StatusForbidden, codeForbidden, "a request from another origin (Sec-Fetch-Site) may not write: allow its origin with --cors-origins")
		}
		return nil
	}
	if s.cors.allowed(origin) || sameOrigin(origin, r) {
		return nil
	}
	return errf(http.StatusForbidden, codeForbidden, "origin "+quoteShort(origin)+" is not allowed to call this API: list it in --cors-origins (or serve the app from the daemon's own origin)")
}

// sameOrigin: origin (scheme://host[:port]) names the host the request
// was sent to.
func sameOrigin(origin string, r *http.Request) bool {
	var host string
	switch {
	case len(origin) > 7 && strings.EqualFold(origin[:7], "http://"):
		host = origin[7:]
	case len(origin) > 8 && strings.EqualFold(origin[:8], "https://"):
		host = origin[8:]
	default:
		return false
	}
	if strings.ContainsAny(host, "/?#@") {
		return false
	}
	return strings.EqualFold(host, r.Host) ||
		strings.EqualFold(host, strings.TrimSuffix(strings.TrimSuffix(r.Host, ":80"), ":443"))
}

// corsAllowHeaders are the request headers the API reads (beyond the
// CORS-safelisted ones).
const corsAllowHeaders = "Authorization, Content-Type, Last-Event-ID, Prefer"

// corsExposeHeaders are the answer headers a client may need to read:
// Location (an async command's status), ETag (console files),
// Retry-After (503), Preference-Applied (Prefer: respond-async),
// WWW-Authenticate (401), Allow (405) and X-Accel-Buffering (SSE).
const corsExposeHeaders = "Location, ETag, Retry-After, Preference-Applied, WWW-Authenticate, Allow, X-Accel-Buffering"

// corsMaxAge is how long (seconds) a browser may cache a preflight's answer.
const corsMaxAge = "600"

// cors is the allowed origins; nil: CORS off.
type cors struct {
	any     bool
	origins map[string]bool
}

// ParseCORSOrigins reads the --cors-origins list: empty (CORS off), "*",
// or origins separated by commas, each as a browser sends it in Origin:
// scheme://host[:port], http or https, nothing else. What a browser never
// sends is refused, since it would never match: a path, a query or a
// fragment (even an empty one), user info, a default port (:80 for http,
// :443 for https), an empty port, a port outside 1-65535, a host not in
// ASCII (give its punycode form, xn--…). Upper case is lowered.
func ParseCORSOrigins(s string) ([]string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	if s == "*" {
		return []string{"*"}, nil
	}
	var out []string
	for _, o := range strings.Split(s, ",") {
		o = strings.TrimSpace(o)
		if o == "*" {
			return nil, errors.New(`"*" allows every origin: give it alone`)
		}
		c, err := canonicalOrigin(o)
		if err != nil {
			return nil, errors.New("origin " + quoteShort(o) + ": " + err.Error())
		}
		out = append(out, c)
	}
	return out, nil
}

// canonicalOrigin checks one origin of the list and lowers its case.
func canonicalOrigin(o string) (string, error) {
	const want = "want scheme://host[:port] (http or https, no path), as a browser sends it in Origin, e.g. https://app.example.com"
	for i := 0; i < len(o); i++ {
		if o[i] >= 0x80 {
			return "", errors.New("not ASCII: give the host's punycode form (xn--…)")
		}
	}
	if strings.ContainsAny(o, "?#") {
		return "", errors.New("a query or fragment: " + want)
	}
	lo := strings.ToLower(o)
	var scheme, hostport string
	switch {
	case strings.HasPrefix(lo, "http://"):
		scheme, hostport = "http", lo[len("http://"):]
	case strings.HasPrefix(lo, "https://"):
		scheme, hostport = "https", lo[len("https://"):]
	default:
		return "", errors.New(want)
	}
	if hostport == "" || strings.ContainsAny(hostport, "/@\\ %") {
		return "", errors.New(want)
	}
	u, err := url.Parse(lo)
	if err != nil || u.Host != hostport || u.Hostname() == "" {
		return "", errors.New(want)
	}
	host := u.Hostname()
	if strings.HasSuffix(hostport, ":") {
		return "", errors.New("an empty port: give the port, or no colon")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		switch {
		case err != nil || n < 1 || n > 65535 || p[0] == '0':
			return "", errors.New("port " + p + ": want 1-65535")
		case scheme == "http" && n == 80, scheme == "https" && n == 443:
			return "", errors.New("the default port " + p + " of " + scheme + ": a browser leaves it out of Origin; write " + scheme + "://" + hostport[:len(hostport)-len(p)-1])
		}
	}
	if strings.Contains(host, ":") && !strings.HasPrefix(hostport, "[") { // an IPv6 address needs its brackets
		return "", errors.New(want)
	}
	return lo, nil
}

func newCORS(origins []string) *cors {
	if len(origins) == 0 {
		return nil
	}
	c := &cors{origins: map[string]bool{}}
	for _, o := range origins {
		if o == "*" {
			c.any = true
		}
		c.origins[strings.ToLower(o)] = true
	}
	return c
}

func (c *cors) allowed(origin string) bool {
	return c != nil && origin != "" && (c.any || c.origins[strings.ToLower(origin)])
}

// setCORS sets the headers of an actual request's answer (preflights add
// theirs in handlePreflight).
func (s *Server) setCORS(h http.Header, r *http.Request) {
	if s.cors == nil {
		return
	}
	h.Add("Vary", "Origin") // the answer depends on it, allowed or not
	origin := r.Header.Get("Origin")
	if !s.cors.allowed(origin) {
		return
	}
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Expose-Headers", corsExposeHeaders)
}

// handlePreflight answers OPTIONS on a routed path (the router has set
// Allow): 204, and for a CORS preflight from an allowed origin the
// methods, headers and max age.
func (s *Server) handlePreflight(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	if s.cors.allowed(r.Header.Get("Origin")) && r.Header.Get("Access-Control-Request-Method") != "" {
		h.Set("Access-Control-Allow-Methods", h.Get("Allow"))
		h.Set("Access-Control-Allow-Headers", corsAllowHeaders)
		h.Set("Access-Control-Max-Age", corsMaxAge)
	}
	w.WriteHeader(http.StatusNoContent)
}
