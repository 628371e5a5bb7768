package client_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eventd/eventd/client"
)

func TestErrorCodesFromDaemon(t *testing.T) {
	d := startDaemon(t)
	c := newClient(t, d)
	ctx := testCtx(t, 30*time.Second)

	_, err := c.Append(ctx, "$commands", "E", nil)
	wantCode(t, err, http.StatusBadRequest, client.CodeInvalidStreamID, client.ErrInvalidStreamID)
	_, err = c.Append(ctx, "has space", "E", nil)
	wantCode(t, err, http.StatusBadRequest, client.CodeInvalidStreamID, client.ErrInvalidStreamID)
	_, err = c.AppendBatch(ctx, "a%2Fb", []client.NewEvent{{EventType: "E"}})
	wantCode(t, err, http.StatusBadRequest, client.CodeInvalidStreamID, client.ErrInvalidStreamID)
	_, err = c.Append(ctx, "s-1", "9lives", nil)
	wantCode(t, err, http.StatusBadRequest, client.CodeInvalidEventType, client.ErrInvalidEventType)
	// A lone surrogate is valid to encoding/json but not to the daemon.
	_, err = c.Append(ctx, "s-1", "E", json.RawMessage(`{"a":"\ud800"}`))
	wantCode(t, err, http.StatusBadRequest, client.CodeInvalidJSON, client.ErrInvalidJSON)
	// eventData must be an object.
	_, err = c.Append(ctx, "s-1", "E", []int{1})
	wantCode(t, err, http.StatusBadRequest, client.CodeBadRequest, client.ErrBadRequest)
	// One event above --max-event-size (1MiB), a body above --max-body (4MiB).
	big := strings.Repeat("x", 1<<20+10)
	_, err = c.Append(ctx, "s-1", "E", map[string]string{"blob": big})
	wantCode(t, err, http.StatusRequestEntityTooLarge, client.CodePayloadTooLarge, client.ErrPayloadTooLarge)
	_, err = c.AppendBatch(ctx, "s-1", []client.NewEvent{
		{EventType: "E", Data: map[string]string{"b": big[:900_000]}}, {EventType: "E", Data: map[string]string{"b": big[:900_000]}},
		{EventType: "E", Data: map[string]string{"b": big[:900_000]}}, {EventType: "E", Data: map[string]string{"b": big[:900_000]}},
		{EventType: "E", Data: map[string]string{"b": big[:900_000]}},
	})
	wantCode(t, err, http.StatusRequestEntityTooLarge, client.CodePayloadTooLarge, client.ErrPayloadTooLarge)
	// Nothing was written by any of these.
	if h, err := c.Health(ctx); err != nil || h.TotalEvents != 0 {
		t.Fatalf("after refused writes: %+v %v", h, err)
	}
	// Client-side checks.
	if _, err := c.ReadStream(ctx, "", client.ReadStreamOptions{}); err == nil {
		t.Fatal("empty stream id accepted")
	}
	if _, err := c.Append(ctx, "s-1", "E", func() {}); err == nil || errors.As(err, new(*client.APIError)) {
		t.Fatalf("unencodable data: %v", err)
	}
}

func TestAuth(t *testing.T) {
	keys := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(keys, []byte("# keys\nr-key read\nw-key write\na-key admin\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, "--auth-keys", keys)
	ctx := testCtx(t, 30*time.Second)

	anon := newClient(t, d)
	reader := newClient(t, d, client.WithAPIKey("r-key"))
	writer := newClient(t, d, client.WithAPIKey("w-key"))
	admin := newClient(t, d, client.WithAPIKey("a-key"))
	wrong := newClient(t, d, client.WithAPIKey("nope"))

	if _, err := anon.Health(ctx); err != nil {
		t.Fatalf("/health is open: %v", err)
	}
	_, err := anon.ReadStream(ctx, "s-1", client.ReadStreamOptions{})
	wantCode(t, err, http.StatusUnauthorized, client.CodeUnauthorized, client.ErrUnauthorized)
	_, err = wrong.ReadStream(ctx, "s-1", client.ReadStreamOptions{})
	wantCode(t, err, http.StatusUnauthorized, client.CodeUnauthorized, client.ErrUnauthorized)
	_, err = reader.Append(ctx, "s-1", "E", nil)
	wantCode(t, err, http.StatusForbidden, client.CodeForbidden, client.ErrForbidden)
	if _, err := writer.Append(ctx, "s-1", "E", nil); err != nil {
		t.Fatal(err)
	}
	_, err = writer.PutReducer(ctx, "r", client.ReducerDefinition{Handlers: map[string]client.ReducerOps{"E": {{Op: "merge"}}}})
	wantCode(t, err, http.StatusForbidden, client.CodeForbidden, client.ErrForbidden)
	if _, err := admin.PutReducer(ctx, "r", client.ReducerDefinition{Handlers: map[string]client.ReducerOps{"E": {{Op: "merge"}}}}); err != nil {
		t.Fatal(err)
	}
	if p, err := reader.ReadStream(ctx, "s-1", client.ReadStreamOptions{}); err != nil || len(p.Events) != 1 {
		t.Fatalf("read with a read key: %v", err)
	}

	// Subscriptions carry the key too; a refused one fails at once.
	_, err = anon.Subscribe(ctx, client.SubscribeOptions{})
	wantCode(t, err, http.StatusUnauthorized, client.CodeUnauthorized, client.ErrUnauthorized)
	sub, err := reader.SubscribeStream(ctx, "s-1", client.StreamSubscribeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	select {
	case ev := <-sub.Events():
		if ev.StreamID != "s-1" || ev.Version != 1 {
			t.Fatalf("event: %+v", ev)
		}
	case <-ctx.Done():
		t.Fatal("no event")
	}
}

// TestErrorMapping checks every code against a fake daemon, and answers
// without the envelope (a proxy's).
func TestErrorMapping(t *testing.T) {
	codes := map[string]error{
		client.CodeBadRequest: client.ErrBadRequest, client.CodeInvalidJSON: client.ErrInvalidJSON,
		client.CodeInvalidStreamID: client.ErrInvalidStreamID, client.CodeInvalidEventType: client.ErrInvalidEventType,
		client.CodeNotFound: client.ErrNotFound, client.CodeWrongExpectedVersion: client.ErrWrongExpectedVersion,
		client.CodeDuplicateEvent: client.ErrDuplicateEvent, client.CodeDuplicateCommand: client.ErrDuplicateCommand,
		client.CodeCommandFailed: client.ErrCommandFailed, client.CodeUnknownCommand: client.ErrUnknownCommand,
		client.CodeSchemaViolation: client.ErrSchemaViolation, client.CodePayloadTooLarge: client.ErrPayloadTooLarge,
		client.CodeUnauthorized: client.ErrUnauthorized, client.CodeForbidden: client.ErrForbidden,
		client.CodeUnavailable: client.ErrUnavailable, client.CodeInternal: client.ErrInternal,
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		code := strings.TrimPrefix(r.URL.Path, "/api/streams/")
		switch code {
		case "proxy-502":
			w.WriteHeader(http.StatusBadGateway)
			fmt.Fprint(w, "<html>bad gateway</html>")
			return
		case "proxy-401":
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.WriteHeader(http.StatusTeapot)
		fmt.Fprintf(w, `{"success":false,"error":"msg %s","code":%q,"details":{"k":1}}`, code, code)
	}))
	defer srv.Close()
	c, err := client.New(srv.URL, client.WithRetry(client.RetryPolicy{MaxAttempts: 1}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t, 10*time.Second)
	for code, sentinel := range codes {
		_, err := c.Stream(ctx, code)
		ae := wantCode(t, err, http.StatusTeapot, code, sentinel)
		if ae.Message != "msg "+code || string(ae.Details) != `{"k":1}` {
			t.Fatalf("%s: %+v", code, ae)
		}
		for other, s := range codes {
			if other != code && errors.Is(err, s) {
				t.Fatalf("%s matches %s", code, other)
			}
		}
		if !strings.Contains(err.Error(), code) {
			t.Fatalf("message %q", err)
		}
	}
	_, err = c.Stream(ctx, "proxy-502")
	ae := wantCode(t, err, http.StatusBadGateway, client.CodeUnavailable, client.ErrUnavailable)
	if !strings.Contains(ae.Message, "bad gateway") {
		t.Fatalf("proxy message: %q", ae.Message)
	}
	_, err = c.Stream(ctx, "proxy-401")
	wantCode(t, err, http.StatusUnauthorized, client.CodeUnauthorized, client.ErrUnauthorized)
}
