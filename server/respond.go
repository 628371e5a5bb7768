package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/eventd/eventd/engine/reducer"
)

// Error codes of the error envelope (docs/api.md "Conventions").
const (
	codeBadRequest       = "bad_request"
	codeInvalidJSON      = "invalid_json"
	codeInvalidStreamID  = "invalid_stream_id"
	codeInvalidEventType = "invalid_event_type"
	codeNotFound         = "not_found"
	codeWrongExpected    = "wrong_expected_version"
	codeDuplicateEvent   = "duplicate_event"
	codeSchemaViolation  = "schema_violation"
	codeTooLarge         = "payload_too_large"
	codeUnauthorized     = "unauthorized"
	codeForbidden        = "forbidden"
	codeUnavailable      = "unavailable"
	codeInternal         = "internal"
)

// apiError is an answer in the error envelope. details, when set, is a raw
// JSON object.
type apiError struct {
	status  int
	code    string
	msg     string
	details []byte
}

func (e *apiError) Error() string { return e.code + ": " + e.msg }

func errf(status int, code, msg string) *apiError {
	return &apiError{status: status, code: code, msg: msg}
}

func badRequest(msg string) *apiError { return errf(http.StatusBadRequest, codeBadRequest, msg) }

// Shared header values: assigned, never appended to.
var (
	hdrJSON    = []string{"application/json"}
	hdrNoStore = []string{"no-store"}
)

// bufPool holds response and request buffers.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) > 1<<20 { // do not keep huge buffers around
		return
	}
	*b = (*b)[:0]
	bufPool.Put(b)
}

// writeRaw sends a complete JSON body.
func writeRaw(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h["Content-Type"] = hdrJSON
	h["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeError sends the error envelope.
func writeError(w http.ResponseWriter, e *apiError) {
	bp := getBuf()
	b := append((*bp)[:0], `{"success":false,"error":`...)
	b = appendString(b, e.msg)
	b = append(b, `,"code":"`...)
	b = append(b, e.code...)
	b = append(b, '"')
	if e.details != nil {
		b = append(b, `,"details":`...)
		b = append(b, e.details...)
	}
	b = append(b, "}\n"...)
	if e.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="eventd"`)
	}
	writeRaw(w, e.status, b)
	*bp = b
	putBuf(bp)
}

// okPrefix opens the success envelope; close it with okSuffix.
const (
	okPrefix = `{"success":true,"data":`
	okSuffix = "}\n"
)

// ---- hand-written JSON appenders ----

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += n
			start = i
			continue
		}
		i += n
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// appendPlain appends a string known to need no escaping (stream ids and
// event types, whose character set the API restricts).
func appendPlain(b []byte, s string) []byte {
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

func appendUint(b []byte, n uint64) []byte { return strconv.AppendUint(b, n, 10) }

// appendTime appends t as "2006-01-02T15:04:05.000Z" (UTC, milliseconds),
// quoted.
func appendTime(b []byte, t time.Time) []byte {
	return append(reducer.AppendTime(append(b, '"'), t), '"')
}

// trimPkg drops the "pkg: " prefix of a sentinel-wrapped error for a
// message meant for clients ("reducer: invalid definition: x" → "invalid
// definition: x").
func trimPkg(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, ": "); i > 0 && !strings.ContainsAny(msg[:i], " \"") {
		return msg[i+2:]
	}
	return msg
}

// compactJSON removes insignificant whitespace from valid JSON.
func compactJSON(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
