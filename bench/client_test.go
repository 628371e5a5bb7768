package bench

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// scriptedServer answers each connection's requests with the given raw
// responses, in order, one per request, then closes the connection.
func scriptedServer(t *testing.T, responses ...string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for _, resp := range responses {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					io.Copy(io.Discard, req.Body)
					if _, err := io.WriteString(c, resp); err != nil {
						return
					}
				}
			}()
		}
	}()
	return "http://" + l.Addr().String()
}

func TestRawClientFraming(t *testing.T) {
	url := scriptedServer(t,
		"HTTP/1.1 201 Created\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n4\r\ndefg\r\n0\r\nX-Trailer: 1\r\n\r\n",
		"HTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 409 Conflict\r\ncontent-length: 2\r\nConnection: close\r\n\r\n{}",
	)
	cl, _ := newClient("raw", url, time.Now().Add(10*time.Second))
	defer cl.close()
	for i, want := range []struct {
		status int
		body   string
	}{{201, "hello"}, {200, "abcdefg"}, {204, ""}, {409, "{}"}} {
		status, body, err := cl.do("POST", []byte("/x"), []byte(`{"a":1}`))
		if err != nil || status != want.status || string(body) != want.body {
			t.Fatalf("response %d: %d %q %v, want %d %q", i, status, body, err, want.status, want.body)
		}
	}
	if cl.(*rawClient).conn != nil {
		t.Fatal("connection not closed after Connection: close")
	}
	// a new connection is dialled for the next request
	if status, body, err := cl.do("GET", []byte("/y"), nil); err != nil || status != 201 || string(body) != "hello" {
		t.Fatalf("after reconnect: %d %q %v", status, body, err)
	}
}

func TestRawClientRejectsGarbage(t *testing.T) {
	for _, resp := range []string{
		"SSH-2.0-OpenSSH\r\n",
		"HTTP/1.1 2x1 Created\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
	} {
		url := scriptedServer(t, resp)
		cl, _ := newClient("raw", url, time.Now().Add(2*time.Second))
		if _, _, err := cl.do("GET", []byte("/"), nil); err == nil {
			t.Errorf("%q: no error", resp)
		}
		cl.close()
	}
}

func benchmarkClient(b *testing.B, kind string) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(201)
		io.WriteString(w, `{"success":true,"data":{"eventId":"0193","streamId":"s","version":1,"eventType":"BenchEvent","timestamp":"2024-01-15T10:30:00.000Z","position":1}}`)
	}))
	defer srv.Close()
	cl, _ := newClient(kind, srv.URL, time.Now().Add(time.Hour))
	defer cl.close()
	body := newBodies(200, "", false).appendSingle(nil, "bench-x-w0-s0", 1)
	path := []byte("/api/events")
	b.ReportAllocs()
	for b.Loop() {
		if st, _, err := cl.do("POST", path, body); err != nil || st != 201 {
			b.Fatal(st, err)
		}
	}
}

// BenchmarkClient compares the two clients' cost per request (client and
// server share the process, so the difference is what counts).
func BenchmarkClient(b *testing.B) {
	for _, kind := range []string{"raw", "std"} {
		b.Run("client="+kind, func(b *testing.B) { benchmarkClient(b, kind) })
	}
}
