package server

// Request bodies: reading them within --max-body and Config.BodyTimeout,
// refusing encoded ones, and checking that a body is a JSON object.

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// bodyChunk is the most readBody allocates ahead of the bytes it has.
const bodyChunk = 64 << 10

// readBody reads the request body into a pooled buffer (release it with
// putBuf once nothing refers to it), enforcing --max-body. A body that does
// not arrive within Config.BodyTimeout is 408; a Content-Encoding other
// than identity is 415 (bodies are not decompressed).
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) (*[]byte, *apiError) {
	if ce, ok := r.Header["Content-Encoding"]; ok {
		if e := checkContentEncoding(w, ce); e != nil {
			return nil, e
		}
	}
	max := s.cfg.MaxBody
	// A body must arrive within BodyTimeout: a stalled upload does not hold
	// its connection and buffer for ever. (Per request, not a server-wide
	// ReadTimeout, which would also end idle SSE streams.)
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.cfg.BodyTimeout))
	defer http.NewResponseController(w).SetReadDeadline(time.Time{})
	if r.ContentLength > max {
		return nil, errf(http.StatusRequestEntityTooLarge, codeTooLarge, "request body of "+strconv.FormatInt(r.ContentLength, 10)+" bytes is larger than the limit of "+strconv.FormatInt(max, 10))
	}
	bp := getBuf()
	b := (*bp)[:0]
	// A declared length is trusted for the allocation only up to
	// bodyChunk: a client that declares 4 MiB and then stalls must not pin
	// 4 MiB per connection. Past that the buffer grows as bytes arrive.
	if r.ContentLength >= 0 && r.ContentLength <= bodyChunk {
		if int64(cap(b)) < r.ContentLength {
			b = make([]byte, 0, r.ContentLength)
		}
		b = b[:r.ContentLength]
		if _, err := io.ReadFull(r.Body, b); err != nil {
			*bp = b[:0]
			putBuf(bp)
			return nil, s.bodyReadError(w, err)
		}
		*bp = b
		return bp, nil
	}
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Body.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if int64(len(b)) > max {
			*bp = b[:0]
			putBuf(bp)
			return nil, errf(http.StatusRequestEntityTooLarge, codeTooLarge, "request body is larger than the limit of "+strconv.FormatInt(max, 10)+" bytes")
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			*bp = b[:0]
			putBuf(bp)
			return nil, s.bodyReadError(w, err)
		}
	}
	*bp = b
	return bp, nil
}

// bodyReadError answers a failed body read: 408 (and the connection is
// closed) when the body did not arrive in time, else 400. The message
// never carries the connection's addresses (a *net.OpError names both
// sockets).
func (s *Server) bodyReadError(w http.ResponseWriter, err error) *apiError {
	if isTimeout(err) {
		w.Header().Set("Connection", "close")
		return errf(http.StatusRequestTimeout, codeBadRequest, "the request body did not arrive within "+s.cfg.BodyTimeout.String())
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		err = op.Err
	}
	return badRequest("reading the request body: " + err.Error())
}

// checkContentEncoding refuses a body the server would have to decode:
// any Content-Encoding but identity is 415, with Accept-Encoding: identity
// (RFC 7694).
func checkContentEncoding(w http.ResponseWriter, values []string) *apiError {
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			if p := strings.TrimSpace(part); p != "" && !strings.EqualFold(p, "identity") {
				w.Header().Set("Accept-Encoding", "identity")
				return errf(http.StatusUnsupportedMediaType, codeBadRequest, "Content-Encoding "+quoteShort(p)+" is not supported: send the body uncompressed")
			}
		}
	}
	return nil
}

// readObject reads the request body (readBody) and checks that it is a
// JSON object (checkBody); release the buffer with putBuf.
func (s *Server) readObject(w http.ResponseWriter, r *http.Request) (*[]byte, *apiError) {
	bp, e := s.readBody(w, r)
	if e != nil {
		return nil, e
	}
	if e := checkBody(*bp); e != nil {
		putBuf(bp)
		return nil, e
	}
	return bp, nil
}

// checkBody validates a JSON request body that must be an object.
func checkBody(b []byte) *apiError {
	if err := checkJSON(b); err != nil {
		return errf(http.StatusBadRequest, codeInvalidJSON, "invalid JSON: "+err.Error())
	}
	if b[skipWS(b, 0)] != '{' {
		return badRequest("the request body must be a JSON object")
	}
	return nil
}
