package server

// Fuzz targets for every POST and PUT body of the API, through the HTTP
// handler (ServeHTTP, no network) of a server wired like the daemon: a real
// store with schemas, reducers, snapshots, projections and commands. The
// property for each: the answer is never a 5xx (a panic answers 500), it is
// in the envelope (success matches the status; an error has a code), and a
// refused request (400, 413) leaves the log as it was. Seeds: testdata/fuzz.

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"
	"time"

	"github.com/eventd/eventd/engine"
	"github.com/eventd/eventd/engine/command"
	"github.com/eventd/eventd/engine/derived"
	"github.com/eventd/eventd/engine/projection"
	"github.com/eventd/eventd/engine/reducer"
	"github.com/eventd/eventd/engine/schema"
	"github.com/eventd/eventd/engine/snapshot"
)

// fuzzEnv is a fully wired server over a store in a temp dir.
type fuzzEnv struct {
	srv   *Server
	store *engine.Store
	cmds  *command.Service
}

func newFuzzEnv(f *testing.F) *fuzzEnv {
	f.Helper()
	dir := f.TempDir()
	lg := discardLogger()
	st, err := engine.Open(dir, engine.Options{Fsync: engine.FsyncNever, Logger: lg})
	if err != nil {
		f.Fatal(err)
	}
	schemas, err := schema.Open(st)
	if err != nil {
		f.Fatal(err)
	}
	st.SetUpcaster(schemas)
	st.SetValidator(schemas)
	reds, err := reducer.Open(st)
	if err != nil {
		f.Fatal(err)
	}
	db, err := derived.Open(filepath.Join(dir, "projections"), nil, lg)
	if err != nil {
		f.Fatal(err)
	}
	snaps, err := snapshot.Open(db, st, reds, schemas, snapshot.Options{Every: -1, After: -1, Logger: lg})
	if err != nil {
		f.Fatal(err)
	}
	projs, err := projection.Open(db, st, reds, projection.Options{Logger: lg})
	if err != nil {
		f.Fatal(err)
	}
	fold := func(ctx context.Context, stream string, to uint64, red reducer.Reducer) (reducer.State, error) {
		res, err := snaps.Replay(ctx, stream, to, red, true, nil)
		return res.State, err
	}
	cmds, err := command.Open(st, reds, command.Options{Logger: lg, Fold: fold})
	if err != nil {
		f.Fatal(err)
	}
	srv := New(st, Config{MaxBody: 64 << 10, MaxEventSize: 16 << 10, Logger: lg, Reducers: reds, Commands: cmds,
		Projections: projs, Schemas: schemas, Snapshots: snaps, TotalCommands: cmds.Total})
	f.Cleanup(func() {
		srv.CloseStreams()
		_ = cmds.Close()
		_ = projs.Close()
		_ = snaps.Close()
		_ = db.Close()
		_ = st.Close()
	})
	e := &fuzzEnv{srv: srv, store: st, cmds: cmds}
	// Fixtures the bodies can name: streams with events, a registered
	// reducer, command handler, schema and projection.
	for _, req := range []struct{ method, path, body string }{
		{"POST", "/api/streams/user-1/events", `{"events":[{"eventType":"UserCreated","eventData":{"name":"Ann","n":1}},{"eventType":"UserUpdated","eventData":{"updates":{"name":"Bo"}}}]}`},
		{"POST", "/api/streams/cnt-1/events", `{"events":[{"eventType":"Inc","eventData":{"k":"a"}},{"eventType":"Inc","eventData":{"k":"b"}}]}`},
		{"PUT", "/api/reducers/counter", `{"category":"cnt","handlers":{"Inc":{"op":"increment","path":"n"}}}`},
		{"PUT", "/api/command-handlers/Note", `{"eventType":"Noted","streamIdFrom":"commandData.s","expect":"any"}`},
		{"PUT", "/api/schemas/ItemAdded", `{"currentVersion":2,"upcasters":[{"from":1,"to":2,"ops":[{"op":"rename","from":"qty","to":"quantity"}]}],"jsonSchema":{"type":"object","required":["quantity"]}}`},
		{"POST", "/api/projections", `{"projectionId":"fz","name":"fixture","kind":"count"}`},
		{"POST", "/api/commands", `{"commandType":"CreateUser","commandData":{"userId":"user-2","email":"b@x","name":"Bo"},"commandId":"fixture-1"}`},
	} {
		rec := e.serve(req.method, req.path, []byte(req.body))
		if rec.Code >= 300 {
			f.Fatalf("fixture %s %s: %d %s", req.method, req.path, rec.Code, rec.Body.Bytes())
		}
	}
	return e
}

func (e *fuzzEnv) serve(method, path string, body []byte, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, req)
	return rec
}

// check sends one request and holds the answer to the properties above. It
// returns the status and the envelope's data.
func (e *fuzzEnv) check(t *testing.T, method, path string, body []byte, hdr ...string) (int, json.RawMessage) {
	t.Helper()
	head := e.store.Head()
	rec := e.serve(method, path, body, hdr...)
	st, out := rec.Code, rec.Body.Bytes()
	if st >= 500 {
		t.Fatalf("%s %s %q: %d %s", method, path, body, st, out)
	}
	var env struct {
		Success *bool           `json:"success"`
		Data    json.RawMessage `json:"data"`
		Error   *string         `json:"error"`
		Code    string          `json:"code"`
	}
	if err := json.Unmarshal(out, &env); err != nil || env.Success == nil {
		t.Fatalf("%s %s %q: %d, not the envelope: %q (%v)", method, path, body, st, out, err)
	}
	if *env.Success != (st < 300) || st >= 400 && (env.Code == "" || env.Error == nil) {
		t.Fatalf("%s %s %q: %d with envelope %s", method, path, body, st, out)
	}
	if (st == 400 || st == 413) && e.store.Head() != head {
		t.Fatalf("%s %s %q: refused (%d %s) but the log moved from %d to %d", method, path, body, st, out, head, e.store.Head())
	}
	return st, env.Data
}

// seg makes a fuzzed string one escaped path segment.
func seg(s string) string { return url.PathEscape(s) }

func FuzzAppendBody(f *testing.F) {
	e := newFuzzEnv(f)
	f.Add([]byte(`{"streamId":"user-1","eventType":"UserUpdated","eventData":{"updates":{"a":1}},"expectedVersion":2}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		e.check(t, "POST", "/api/events", body)
	})
}

func FuzzBatchBody(f *testing.F) {
	e := newFuzzEnv(f)
	f.Add("user-1", []byte(`{"events":[{"eventType":"A","eventData":{}}]}`))
	f.Fuzz(func(t *testing.T, stream string, body []byte) {
		e.check(t, "POST", "/api/streams/"+seg(stream)+"/events", body)
	})
}

func FuzzReplayBody(f *testing.F) {
	e := newFuzzEnv(f)
	f.Add("user-1", []byte(`{"fromVersion":1,"toVersion":2,"useSnapshot":true,"reducer":"default","includeEvents":true}`))
	f.Fuzz(func(t *testing.T, stream string, body []byte) {
		e.check(t, "POST", "/api/events/"+seg(stream)+"/replay", body)
	})
}

func FuzzCommandBody(f *testing.F) {
	e := newFuzzEnv(f)
	f.Add([]byte(`{"commandType":"Note","commandData":{"s":"note-1"},"async":true}`), false)
	f.Fuzz(func(t *testing.T, body []byte, prefer bool) {
		var hdr []string
		if prefer {
			hdr = []string{"Prefer", "respond-async"}
		}
		st, data := e.check(t, "POST", "/api/commands", body, hdr...)
		if st == http.StatusAccepted {
			// Let it finish, so that its append is not taken for the next
			// input's.
			var out struct{ Command struct{ ID string } }
			if err := json.Unmarshal(data, &out); err != nil || out.Command.ID == "" {
				t.Fatalf("202 without a command id: %s", data)
			}
			e.waitCommand(t, out.Command.ID)
		}
	})
}

func (e *fuzzEnv) waitCommand(t *testing.T, id string) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := e.cmds.Status(id)
		if err != nil {
			t.Fatalf("status of accepted command %s: %v", id, err)
		}
		if out.Command.Status.Final() {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("accepted command %s still %v after 10 s", id, out.Command.Status)
		}
		time.Sleep(time.Millisecond)
	}
}

func FuzzCommandHandlerBody(f *testing.F) {
	e := newFuzzEnv(f)
	f.Add("Deposit", []byte(`{"eventType":"Deposited","streamIdFrom":"commandData.accountId","expect":"existing","data":"commandData.deposit"}`))
	f.Fuzz(func(t *testing.T, commandType string, body []byte) {
		e.check(t, "PUT", "/api/command-handlers/"+seg(commandType), body)
	})
}

// FuzzProjectionBody: action%4 chooses create (a projection it creates is
// deleted again, so they do not pile up), pause, resume or reset of the
// fixture projection (these take no body or {}).
func FuzzProjectionBody(f *testing.F) {
	e := newFuzzEnv(f)
	f.Add(uint8(0), []byte(`{"name":"users","kind":"state","streamPrefix":"user-","startFrom":"now"}`))
	f.Fuzz(func(t *testing.T, action uint8, body []byte) {
		if a := action % 4; a != 0 {
			e.check(t, "POST", "/api/projections/fz/"+[]string{"", "pause", "resume", "reset"}[a], body)
			return
		}
		st, data := e.check(t, "POST", "/api/projections", body)
		if st == http.StatusCreated {
			var p struct{ ID string }
			if err := json.Unmarshal(data, &p); err != nil || p.ID == "" {
				t.Fatalf("201 without an id: %s", data)
			}
			if st, _ := e.check(t, "DELETE", "/api/projections/"+seg(p.ID), nil); st != 200 {
				t.Fatalf("DELETE of the projection just created (%s): %d", p.ID, st)
			}
		}
	})
}

func FuzzSnapshotBody(f *testing.F) {
	e := newFuzzEnv(f)
	f.Add([]byte(`{"streamId":"user-1","version":1}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		e.check(t, "POST", "/api/snapshots", body)
	})
}

func FuzzSchemaBody(f *testing.F) {
	e := newFuzzEnv(f)
	f.Add("Person", []byte(`{"currentVersion":1,"jsonSchema":{"type":"object"}}`))
	f.Fuzz(func(t *testing.T, eventType string, body []byte) {
		e.check(t, "PUT", "/api/schemas/"+seg(eventType), body)
	})
}

func FuzzReducerBody(f *testing.F) {
	e := newFuzzEnv(f)
	f.Add("acct", []byte(`{"category":"acct","handlers":{"Deposited":[{"op":"increment","path":"balance","from":"eventData.amount"}]}}`))
	f.Fuzz(func(t *testing.T, name string, body []byte) {
		e.check(t, "PUT", "/api/reducers/"+seg(name), body)
	})
}
