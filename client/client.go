package client

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// DefaultUserAgent is the User-Agent sent unless WithUserAgent replaces it.
const DefaultUserAgent = "eventd-go-client/1"

// Client talks to one eventd daemon. It is safe for concurrent use by
// multiple goroutines; create one per daemon and reuse it.
type Client struct {
	base      string // scheme://host[/prefix], no trailing slash
	hc        *http.Client
	apiKey    string
	userAgent string
	retry     RetryPolicy
	autoIDs   bool
}

// Option configures a Client in New.
type Option func(*Client) error

// WithAPIKey sends key as "Authorization: Bearer <key>" on every request
// (the daemon's --auth-keys; /health needs none).
func WithAPIKey(key string) Option {
	return func(c *Client) error {
		if strings.ContainsAny(key, "\r\n") {
			return errors.New("eventd client: API key contains a line break")
		}
		c.apiKey = key
		return nil
	}
}

// WithHTTPClient makes the Client send its requests through hc (for TLS
// settings, proxies, transports with tracing, ...). Leave hc.Timeout at 0:
// it would also cut subscriptions, which are long-lived responses. Bound
// calls with their context instead.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) error {
		if hc == nil {
			return errors.New("eventd client: nil *http.Client")
		}
		c.hc = hc
		return nil
	}
}

// WithUserAgent sets the User-Agent header (default DefaultUserAgent).
func WithUserAgent(ua string) Option {
	return func(c *Client) error {
		if strings.ContainsAny(ua, "\r\n") {
			return errors.New("eventd client: User-Agent contains a line break")
		}
		c.userAgent = ua
		return nil
	}
}

// WithRetry replaces DefaultRetryPolicy. RetryPolicy{MaxAttempts: 1}
// turns retries off. The policy only ever applies to requests that are safe
// to repeat: see RetryPolicy.
func WithRetry(p RetryPolicy) Option {
	return func(c *Client) error {
		if p.MaxAttempts < 0 || p.InitialBackoff < 0 || p.MaxBackoff < 0 {
			return errors.New("eventd client: negative retry policy value")
		}
		c.retry = p.withDefaults()
		return nil
	}
}

// WithAutoIDs makes the client fill in a fresh UUIDv7 (NewID) for every
// event without an EventID and every command without an ID before the
// first attempt, so that appends and commands become idempotent and are
// retried like reads.
//
// The trade-off: the ids protect the retries of one call only. If the
// caller itself calls Append again (after a timeout, a crash, a message
// redelivery), the new call gets new ids and writes the event a second
// time. For end-to-end exactly-once, derive the event id or command id from
// something the caller already has (a message id, an order number) and set
// it explicitly. A retry is also only recognised within the daemon's
// --dedupe-window (default 10m), far longer than any retry policy, and
// the ids' timestamps come from this host's clock, not the daemon's.
func WithAutoIDs() Option {
	return func(c *Client) error {
		c.autoIDs = true
		return nil
	}
}

// New returns a Client for the daemon at baseURL ("http://127.0.0.1:2113",
// or with a path prefix when it sits behind a reverse proxy:
// "https://example.com/eventd").
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("eventd client: base URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("eventd client: base URL %q: scheme must be http or https", baseURL)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("eventd client: base URL %q has no host", baseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("eventd client: base URL %q: no query or fragment allowed", baseURL)
	}
	u.RawPath = ""
	c := &Client{
		base:      strings.TrimRight(u.String(), "/"),
		hc:        &http.Client{},
		userAgent: DefaultUserAgent,
		retry:     DefaultRetryPolicy(),
	}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// BaseURL returns the daemon address the Client was made for.
func (c *Client) BaseURL() string { return c.base }

// escape escapes one path segment (a stream id, a projection id, ...).
func escape(id string) string { return url.PathEscape(id) }
