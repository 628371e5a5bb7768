package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// request is one API call, possibly sent several times.
type request struct {
	method string
	path   string // escaped, from the base URL: "/api/events/x"
	query  url.Values
	body   any // marshalled to JSON; nil: no body
	header http.Header

	idempotent bool // safe to send again: see RetryPolicy
	no503Retry bool // a 503 is this call's answer, not a transient failure
	raw        bool // the answer is not enveloped (/health, /metrics, the OpenAPI document)
}

// response is what the caller may need beyond the decoded data.
type response struct {
	status int
	header http.Header
}

// maxErrorBody bounds how much of an error answer is read.
const maxErrorBody = 1 << 20

// do sends r (retrying per the policy when r is safe to repeat) and decodes
// the success envelope's data into out (if out is not nil).
func (c *Client) do(ctx context.Context, r *request, out any) (*response, error) {
	var body []byte
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return nil, fmt.Errorf("eventd client: encoding %s %s body: %w", r.method, r.path, err)
		}
		body = b
	}
	attempts := 1
	if r.idempotent {
		attempts = c.retry.MaxAttempts
	}
	for attempt := 1; ; attempt++ {
		res, err, transient := c.send(ctx, r, body, out)
		if err == nil {
			return res, nil
		}
		if ctx.Err() != nil {
			return res, err
		}
		var wait bool
		switch {
		case !transient:
		case isDialError(err): // nothing was sent: always safe
			wait = attempt < max(attempts, c.retry.MaxAttempts)
		default:
			wait = attempt < attempts
		}
		if !wait {
			return res, err
		}
		d := c.retry.backoff(attempt)
		if res != nil {
			if ra := retryAfter(res.header); ra > d {
				d = min(ra, c.retry.MaxBackoff)
			}
		}
		if serr := sleep(ctx, d); serr != nil {
			return res, err
		}
	}
}

// send makes one attempt. transient reports a failure worth retrying: a
// network error or a 503 (unless r.no503Retry).
func (c *Client) send(ctx context.Context, r *request, body []byte, out any) (_ *response, _ error, transient bool) {
	hreq, err := c.newRequest(ctx, r.method, r.path, r.query, body)
	if err != nil {
		return nil, err, false
	}
	for k, vs := range r.header {
		hreq.Header[k] = vs
	}
	hres, err := c.hc.Do(hreq)
	if err != nil {
		return nil, err, true
	}
	defer hres.Body.Close()
	res := &response{status: hres.StatusCode, header: hres.Header}
	if hres.StatusCode >= 200 && hres.StatusCode < 300 {
		b, err := io.ReadAll(hres.Body)
		if err != nil { // the connection broke during the answer
			return res, fmt.Errorf("eventd client: reading %s %s answer: %w", r.method, r.path, err), true
		}
		if out == nil {
			return res, nil, false
		}
		if err := decodeData(b, out, r.raw); err != nil {
			return res, fmt.Errorf("eventd client: decoding %s %s answer: %w", r.method, r.path, err), false
		}
		return res, nil, false
	}
	b, rerr := io.ReadAll(io.LimitReader(hres.Body, maxErrorBody))
	if r.raw && hres.StatusCode == http.StatusServiceUnavailable && out != nil && rerr == nil {
		_ = json.Unmarshal(b, out) // /health answers 503 with its own shape
	}
	aerr := parseError(hres.StatusCode, b)
	retry := hres.StatusCode == http.StatusServiceUnavailable && !r.no503Retry
	return res, aerr, retry
}

// newRequest builds an HTTP request to the daemon with the client's headers.
func (c *Client) newRequest(ctx context.Context, method, path string, q url.Values, body []byte) (*http.Request, error) {
	u := c.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	hreq, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("eventd client: %w", err)
	}
	if body != nil {
		hreq.Header.Set("Content-Type", "application/json")
	}
	hreq.Header.Set("Accept", "application/json")
	if c.userAgent != "" {
		hreq.Header.Set("User-Agent", c.userAgent)
	}
	if c.apiKey != "" {
		hreq.Header.Set("Authorization", "Bearer "+c.apiKey)
	}
	return hreq, nil
}

// decodeData decodes {"success": true, "data": X} into out (or the whole
// body for raw answers).
func decodeData(b []byte, out any, raw bool) error {
	if raw {
		if p, ok := out.(*[]byte); ok { // not JSON (/metrics)
			*p = b
			return nil
		}
		return json.Unmarshal(b, out)
	}
	env := struct {
		Success bool `json:"success"`
		Data    any  `json:"data"`
	}{Data: out}
	if err := json.Unmarshal(b, &env); err != nil {
		return err
	}
	if !env.Success {
		return errors.New(`answer without "success": true`)
	}
	return nil
}

// parseError turns an error answer into an *APIError, also when it did not
// come in the envelope (a proxy's page): the code is then derived from the
// status.
func parseError(status int, b []byte) *APIError {
	var env struct {
		Error   *string         `json:"error"`
		Code    string          `json:"code"`
		Details json.RawMessage `json:"details"`
	}
	e := &APIError{Status: status}
	if json.Unmarshal(b, &env) == nil && (env.Code != "" || env.Error != nil) {
		e.Code = env.Code
		if env.Error != nil {
			e.Message = *env.Error
		}
		if len(env.Details) > 0 && string(env.Details) != "null" {
			e.Details = env.Details
		}
	} else {
		msg := strings.TrimSpace(string(b))
		if len(msg) > 200 {
			msg = msg[:200] + "…"
		}
		e.Message = http.StatusText(status)
		if msg != "" {
			e.Message += ": " + msg
		}
	}
	if e.Code == "" {
		e.Code = codeForStatus(status)
	}
	return e
}
