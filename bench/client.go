package bench

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// client sends one request at a time on its own keep-alive connection and
// reads the whole response. The returned body aliases an internal buffer
// that is valid until the next call.
type client interface {
	do(method string, path, body []byte) (status int, resp []byte, err error)
	close()
}

func newClient(kind, baseURL string, deadline time.Time) (client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, err
	}
	switch kind {
	case "std":
		return newStdClient(u, deadline), nil
	default:
		return &rawClient{addr: u.Host, host: u.Host, deadline: deadline}, nil
	}
}

// rawClient speaks just enough HTTP/1.1 for the daemon: one request per
// write, responses framed by Content-Length or chunked encoding, the
// connection kept alive unless the server says close. Every buffer is
// reused, so a request costs one write and (usually) one read syscall.
//
// Every connection carries the run's hard deadline, so no request can
// outlive the run.
type rawClient struct {
	addr, host string
	deadline   time.Time
	conn       net.Conn
	br         *bufio.Reader
	req        []byte
	resp       []byte
}

var errMalformed = errors.New("bench: malformed HTTP response")

func (c *rawClient) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

func (c *rawClient) dial() error {
	conn, err := net.DialTimeout("tcp", c.addr, 5*time.Second)
	if err != nil {
		return err
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	conn.SetDeadline(c.deadline)
	c.conn = conn
	if c.br == nil {
		c.br = bufio.NewReaderSize(conn, 64<<10)
	} else {
		c.br.Reset(conn)
	}
	return nil
}

func (c *rawClient) do(method string, path, body []byte) (int, []byte, error) {
	if c.conn == nil {
		if err := c.dial(); err != nil {
			return 0, nil, err
		}
	}
	r := c.req[:0]
	r = append(r, method...)
	r = append(r, ' ')
	r = append(r, path...)
	r = append(r, " HTTP/1.1\r\nHost: "...)
	r = append(r, c.host...)
	if method == http.MethodPost {
		r = append(r, "\r\nContent-Type: application/json\r\nContent-Length: "...)
		r = strconv.AppendInt(r, int64(len(body)), 10)
	}
	r = append(r, "\r\n\r\n"...)
	r = append(r, body...)
	c.req = r
	if _, err := c.conn.Write(r); err != nil {
		c.close()
		return 0, nil, err
	}
	status, keep, err := c.readResponse()
	if err != nil {
		c.close()
		return 0, nil, err
	}
	if !keep {
		c.close()
	}
	return status, c.resp, nil
}

// readResponse reads a status line, headers and body into c.resp.
func (c *rawClient) readResponse() (status int, keepAlive bool, err error) {
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		return 0, false, err
	}
	// "HTTP/1.1 201 Created\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0, false, errMalformed
	}
	for _, d := range line[9:12] {
		if d < '0' || d > '9' {
			return 0, false, errMalformed
		}
		status = status*10 + int(d-'0')
	}
	keepAlive = line[7] == '1'
	contentLength, chunked := int64(-1), false
	for {
		line, err = c.br.ReadSlice('\n')
		if err != nil {
			return 0, false, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, false, errMalformed
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || n < 0 {
				return 0, false, errMalformed
			}
			contentLength = n
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			if bytes.EqualFold(value, []byte("close")) {
				keepAlive = false
			} else if bytes.EqualFold(value, []byte("keep-alive")) {
				keepAlive = true
			}
		}
	}
	c.resp = c.resp[:0]
	switch {
	case status == http.StatusNoContent || status == http.StatusNotModified || status/100 == 1:
	case chunked:
		err = c.readChunked()
	case contentLength >= 0:
		err = c.readN(contentLength)
	default: // delimited by the end of the connection
		keepAlive = false
		var b bytes.Buffer
		b.Write(c.resp)
		_, err = b.ReadFrom(c.br)
		c.resp = b.Bytes()
	}
	return status, keepAlive, err
}

func (c *rawClient) readN(n int64) error {
	if n > maxBodyBytes {
		return fmt.Errorf("bench: response body of %d bytes", n)
	}
	start := len(c.resp)
	c.resp = growTo(c.resp, start+int(n))
	_, err := io.ReadFull(c.br, c.resp[start:])
	return err
}

func (c *rawClient) readChunked() error {
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return err
		}
		line = bytes.TrimRight(line, "\r\n")
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		size, err := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
		if err != nil || size < 0 {
			return errMalformed
		}
		if size == 0 {
			for { // trailers, up to the empty line
				line, err := c.br.ReadSlice('\n')
				if err != nil {
					return err
				}
				if len(bytes.TrimRight(line, "\r\n")) == 0 {
					return nil
				}
			}
		}
		if int64(len(c.resp))+size > maxBodyBytes {
			return fmt.Errorf("bench: response body over %d bytes", maxBodyBytes)
		}
		if err := c.readN(size); err != nil {
			return err
		}
		if _, err := c.br.Discard(2); err != nil { // CRLF after the chunk
			return err
		}
	}
}

// growTo returns b resized to n bytes, keeping its contents.
func growTo(b []byte, n int) []byte {
	if n <= cap(b) {
		return b[:n]
	}
	nb := make([]byte, n, max(n, 2*cap(b)))
	copy(nb, b)
	return nb
}

// stdClient uses net/http, for comparison with rawClient.
type stdClient struct {
	base string
	hc   *http.Client
	resp bytes.Buffer
}

func newStdClient(u *url.URL, deadline time.Time) *stdClient {
	tr := &http.Transport{
		Proxy:               nil,
		MaxIdleConns:        1,
		MaxIdleConnsPerHost: 1, // one worker, one connection
		DisableCompression:  true,
		IdleConnTimeout:     time.Minute,
	}
	return &stdClient{
		base: u.Scheme + "://" + u.Host,
		hc:   &http.Client{Transport: tr, Timeout: time.Until(deadline)},
	}
}

func (c *stdClient) do(method string, path, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, c.base+string(path), rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	c.resp.Reset()
	if _, err := c.resp.ReadFrom(io.LimitReader(res.Body, maxBodyBytes)); err != nil {
		return 0, nil, err
	}
	return res.StatusCode, c.resp.Bytes(), nil
}

func (c *stdClient) close() { c.hc.CloseIdleConnections() }
