package client

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// A Server-Sent Events reader (the WHATWG "event stream" format): lines end
// in LF, CRLF or CR; "field: value" lines build a message; an empty line
// dispatches it; lines starting with ':' are comments.

// sseMessage is one dispatched message.
type sseMessage struct {
	event string // "message" when the message named none
	data  []byte // data lines joined with '\n'
	id    string // the message's own id field
	hasID bool   // whether the message had an id field
}

// maxSSEMessage bounds one message, against a runaway answer.
const maxSSEMessage = 64 << 20

var errSSETooLarge = errors.New("eventd client: server-sent message larger than 64 MiB")

type sseReader struct {
	br      *bufio.Reader
	pending [][]byte // lines split off a chunk at lone CRs
	line    []byte
}

func newSSEReader(r io.Reader) *sseReader {
	return &sseReader{br: bufio.NewReaderSize(r, 64<<10)}
}

// readLine returns the next line without its terminator. At the end of the
// input a last unterminated line is dropped (its message is incomplete).
func (r *sseReader) readLine() ([]byte, error) {
	if len(r.pending) > 0 {
		l := r.pending[0]
		r.pending = r.pending[1:]
		return l, nil
	}
	r.line = r.line[:0]
	for {
		chunk, err := r.br.ReadSlice('\n')
		r.line = append(r.line, chunk...)
		if len(r.line) > maxSSEMessage {
			return nil, errSSETooLarge
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return nil, err // an unterminated tail is dropped
		}
		break
	}
	l := bytes.TrimSuffix(r.line[:len(r.line)-1], []byte("\r"))
	if bytes.IndexByte(l, '\r') < 0 {
		return l, nil
	}
	parts := bytes.Split(l, []byte("\r")) // lone CRs end lines too
	r.pending = parts[1:]
	return parts[0], nil
}

// next returns the next message; comments and messages without data are
// skipped. The error is the reader's (io.EOF at the end).
func (r *sseReader) next() (sseMessage, error) {
	var m sseMessage
	var data []byte
	hasData := false
	for {
		line, err := r.readLine()
		if err != nil {
			return sseMessage{}, err
		}
		if len(line) == 0 { // dispatch
			if !hasData {
				m = sseMessage{}
				continue
			}
			if m.event == "" {
				m.event = "message"
			}
			m.data = data
			return m, nil
		}
		if line[0] == ':' {
			continue
		}
		field, value := line, []byte(nil)
		if i := bytes.IndexByte(line, ':'); i >= 0 {
			field, value = line[:i], line[i+1:]
			value = bytes.TrimPrefix(value, []byte(" "))
		}
		switch string(field) {
		case "data":
			if hasData {
				data = append(data, '\n')
			}
			data = append(data, value...)
			hasData = true
			if len(data) > maxSSEMessage {
				return sseMessage{}, errSSETooLarge
			}
		case "event":
			m.event = string(value)
		case "id":
			if bytes.IndexByte(value, 0) < 0 {
				m.id, m.hasID = string(value), true
			}
		}
		// "retry" and unknown fields are ignored: reconnection waits
		// follow the client's own backoff.
	}
}
