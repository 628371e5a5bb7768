package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eventd/eventd/engine"
	"github.com/eventd/eventd/engine/command"
	"github.com/eventd/eventd/engine/reducer"
)

// cmdEnv is a server with a command service over a real store in dir.
type cmdEnv struct {
	*testEnv
	dir     string
	svc     *command.Service
	closeFn func()
}

func newCmdEnv(t *testing.T, cfg Config) *cmdEnv {
	t.Helper()
	return openCmdEnv(t, cfg, t.TempDir())
}

func openCmdEnv(t *testing.T, cfg Config, dir string) *cmdEnv {
	t.Helper()
	st, err := engine.Open(dir, engine.Options{Fsync: engine.FsyncNever, Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := command.Open(st, reducer.NewRegistry(), command.Options{Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Commands, cfg.TotalCommands, cfg.Logger = svc, svc.Total, discardLogger()
	srv := New(st, cfg)
	ts := httptest.NewServer(srv)
	e := &cmdEnv{testEnv: &testEnv{t: t, store: st, srv: srv, ts: ts, hc: &http.Client{Timeout: 30 * time.Second}}, dir: dir, svc: svc}
	closed := false
	e.closeFn = func() {
		if closed {
			return
		}
		closed = true
		srv.CloseStreams()
		ts.Close()
		_ = svc.Close()
		_ = st.Close()
	}
	t.Cleanup(e.closeFn)
	return e
}

// reopen restarts the service and the store on the same data dir.
func (e *cmdEnv) reopen(cfg Config) *cmdEnv {
	e.closeFn()
	return openCmdEnv(e.t, cfg, e.dir)
}

func createCmd(u, id string) M {
	b := M{"commandType": "CreateUser", "commandData": M{"userId": u, "email": u + "@example.com", "name": "Ann"}}
	if id != "" {
		b["commandId"] = id
	}
	return b
}

// keys asserts that m has exactly the given keys.
func keys(t *testing.T, m map[string]any, want ...string) {
	t.Helper()
	if len(m) != len(want) {
		t.Fatalf("want keys %v, got %v", want, m)
	}
	for _, k := range want {
		if _, ok := m[k]; !ok {
			t.Fatalf("want keys %v, got %v", want, m)
		}
	}
}

// sameReply asserts that again repeats first: status and body (as JSON).
func sameReply(t *testing.T, first, again *reply) {
	t.Helper()
	if first.status != again.status || !reflect.DeepEqual(first.v, again.v) {
		t.Fatalf("want the first answer repeated:\nfirst: %d %s\nagain: %d %s", first.status, first.body, again.status, again.body)
	}
}

// waitStatus polls a command's status until it is final.
func (e *cmdEnv) waitStatus(id string) map[string]any {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c := e.get("/api/commands/"+id+"/status").ok(e.t, 200)
		if s := c["status"]; s == "completed" || s == "failed" {
			return c
		}
		if c["processedAt"] != nil || c["error"] != nil {
			e.t.Fatalf("unfinished command with an outcome: %v", c)
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("command %s not finished after 10 s: %v", id, c)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCommandSync(t *testing.T) {
	e := newCmdEnv(t, Config{})
	r := e.post("/api/commands", createCmd("u1", "c1"))
	data := r.ok(t, 201)
	keys(t, data, "command", "result")
	c := obj(t, data["command"])
	keys(t, c, "id", "commandType", "status", "createdAt", "processedAt", "error")
	if c["id"] != "c1" || c["commandType"] != "CreateUser" || c["status"] != "completed" || c["error"] != nil {
		t.Fatalf("command %v", c)
	}
	for _, f := range []string{"createdAt", "processedAt"} {
		if _, err := time.Parse(reducer.TimeLayout, c[f].(string)); err != nil {
			t.Fatalf("%s %v: %v", f, c[f], err)
		}
	}
	res := obj(t, data["result"])
	keys(t, res, "streamId", "version", "events")
	evs := arr(t, res["events"])
	if res["streamId"] != "u1" || num(t, res["version"]) != 1 || len(evs) != 1 {
		t.Fatalf("result %v", res)
	}
	ev := obj(t, evs[0])
	keys(t, ev, "eventId", "streamId", "version", "position", "eventType")
	stored := obj(t, arr(t, e.get("/api/events/u1").ok(t, 200)["events"])[0])
	for _, f := range []string{"eventId", "streamId", "version", "position", "eventType"} {
		if stored[f] != ev[f] {
			t.Fatalf("result event %v, stored %v", ev, stored)
		}
	}
	if md := obj(t, stored["metadata"]); md["commandId"] != "c1" {
		t.Fatalf("metadata %v", md)
	}

	// The status: the command plus its result.
	st := e.get("/api/commands/c1/status").ok(t, 200)
	keys(t, st, "id", "commandType", "status", "createdAt", "processedAt", "error", "result")
	want := map[string]any{}
	for k, v := range c {
		want[k] = v
	}
	want["result"] = data["result"]
	if !reflect.DeepEqual(st, want) {
		t.Fatalf("status %v, want %v", st, want)
	}
	// A resend, also with other metadata, answers the first outcome.
	sameReply(t, r, e.post("/api/commands", createCmd("u1", "c1")))
	withMeta := createCmd("u1", "c1")
	withMeta["metadata"] = M{"retry": 1}
	sameReply(t, r, e.post("/api/commands", withMeta))
	if h := e.get("/health"); h.v["totalCommands"] != json.Number("1") {
		t.Fatalf("totalCommands %v", h.v["totalCommands"])
	}
	// A server-made id.
	id := obj(t, e.post("/api/commands", createCmd("u2", "")).ok(t, 201)["command"])["id"].(string)
	if len(id) != 36 || id[14] != '7' {
		t.Fatalf("server-made id %q", id)
	}
}

func TestCommandAsync(t *testing.T) {
	e := newCmdEnv(t, Config{})
	for i, how := range []struct {
		hdr  []string
		body bool
	}{{[]string{"Prefer", "respond-async"}, false}, {[]string{"Prefer", "wait=5, Respond-Async; x=1"}, false}, {nil, true}} {
		id, u := "a"+string(rune('1'+i)), "u"+string(rune('1'+i))
		b := createCmd(u, id)
		if how.body {
			b["async"] = true
		}
		r := e.post("/api/commands", b, how.hdr...)
		data := r.ok(t, 202)
		keys(t, data, "command")
		c := obj(t, data["command"])
		if c["status"] != "pending" || c["processedAt"] != nil || c["error"] != nil || c["id"] != id {
			t.Fatalf("async answer %v", c)
		}
		if loc := r.header.Get("Location"); loc != "/api/commands/"+id+"/status" {
			t.Fatalf("Location %q", loc)
		}
		if pa := r.header.Get("Preference-Applied"); (pa == "respond-async") != (how.hdr != nil) {
			t.Fatalf("Preference-Applied %q", pa)
		}
		done := e.waitStatus(id)
		if done["status"] != "completed" || obj(t, done["result"])["streamId"] != u {
			t.Fatalf("done %v", done)
		}
		// Finished: a resend answers the final outcome (201).
		again := e.post("/api/commands", b, how.hdr...).ok(t, 201)
		delete(done, "result")
		if !reflect.DeepEqual(obj(t, again["command"]), done) {
			t.Fatalf("resend %v, status %v", again["command"], done)
		}
	}
	// A rule broken when it runs: 202, then failed with the reason.
	b := M{"commandType": "UpdateUser", "commandId": "af", "commandData": M{"userId": "nobody", "updates": M{"a": 1}}, "async": true}
	e.post("/api/commands", b).ok(t, 202)
	if f := e.waitStatus("af"); f["status"] != "failed" || f["error"] == nil || f["result"] != nil {
		t.Fatalf("failed async %v", f)
	}
	e.post("/api/commands", b).fail(t, 422, codeCommandFailed)
}

func TestCommandFailures(t *testing.T) {
	e := newCmdEnv(t, Config{})
	e.post("/api/commands", createCmd("u1", "")).ok(t, 201)

	head := e.store.Head()
	r := e.post("/api/commands", createCmd("u1", "f1"))
	r.fail(t, 422, codeCommandFailed)
	if e.store.Head() != head+1 {
		t.Fatalf("a failed command records one event: head %d→%d", head, e.store.Head())
	}
	st := e.get("/api/commands/f1/status").ok(t, 200)
	if st["status"] != "failed" || st["error"] != r.v["error"] || st["processedAt"] == nil || st["result"] != nil {
		t.Fatalf("status %v (answer %s)", st, r.body)
	}
	sameReply(t, r, e.post("/api/commands", createCmd("u1", "f1")))

	// The client's expectedVersion: as for appends, details included.
	b := M{"commandType": "UpdateUser", "commandId": "f2", "commandData": M{"userId": "u1", "updates": M{"name": "B"}}, "expectedVersion": "no_stream"}
	r = e.post("/api/commands", b)
	d := obj(t, r.fail(t, 409, codeWrongExpected)["details"])
	if d["expectedVersion"] != "no_stream" || num(t, d["currentVersion"]) != 1 {
		t.Fatalf("details %v", d)
	}
	sameReply(t, r, e.post("/api/commands", b))
	b = M{"commandType": "UpdateUser", "commandData": M{"userId": "u1", "updates": M{"name": "B"}}, "expectedVersion": 1}
	if v := num(t, obj(t, e.post("/api/commands", b).ok(t, 201)["result"])["version"]); v != 2 {
		t.Fatalf("version %d", v)
	}
	b["expectedVersion"] = nil // null: any
	e.post("/api/commands", b).ok(t, 201)

	// The same id for another command: 409, nothing written.
	head, total := e.store.Head(), e.svc.Total()
	e.post("/api/commands", createCmd("u9", "f1")).fail(t, 409, codeDuplicateCommand)
	e.post("/api/commands", M{"commandType": "DeleteUser", "commandId": "f1", "commandData": M{"userId": "u1"}}).fail(t, 409, codeDuplicateCommand)
	if e.store.Head() != head || e.svc.Total() != total {
		t.Fatal("a duplicate command wrote")
	}
}

// TestCommandBadInput: malformed requests on every command route are a
// clear 4xx that changes nothing.
func TestCommandBadInput(t *testing.T) {
	e := newCmdEnv(t, Config{MaxBody: 64 << 10})
	e.post("/api/commands", createCmd("u1", "ok")).ok(t, 201)
	e.put("/api/command-handlers/Note", M{"eventType": "Noted", "streamIdFrom": "commandData.s", "expect": "any"}).ok(t, 201)
	long := strings.Repeat("i", 129)
	cases := []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"NotJSON", "POST", "/api/commands", `{"commandType":`, 400, codeInvalidJSON},
		{"Array", "POST", "/api/commands", `[]`, 400, codeBadRequest},
		{"UnknownField", "POST", "/api/commands", `{"commandType":"CreateUser","commandData":{},"commandid":"x"}`, 400, codeBadRequest},
		{"DuplicateField", "POST", "/api/commands", `{"commandType":"CreateUser","commandType":"DeleteUser","commandData":{}}`, 400, codeBadRequest},
		{"NoType", "POST", "/api/commands", `{"commandData":{"userId":"u2"}}`, 400, codeBadRequest},
		{"TypeNumber", "POST", "/api/commands", `{"commandType":5,"commandData":{}}`, 400, codeBadRequest},
		{"TypeNull", "POST", "/api/commands", `{"commandType":null,"commandData":{}}`, 400, codeBadRequest},
		{"UnknownType", "POST", "/api/commands", `{"commandType":"Nope","commandData":{"userId":"u2"}}`, 400, codeUnknownCommand},
		{"EmptyType", "POST", "/api/commands", `{"commandType":"","commandData":{}}`, 400, codeUnknownCommand},
		{"NoData", "POST", "/api/commands", `{"commandType":"CreateUser"}`, 400, codeBadRequest},
		{"DataNull", "POST", "/api/commands", `{"commandType":"CreateUser","commandData":null}`, 400, codeBadRequest},
		{"DataString", "POST", "/api/commands", `{"commandType":"CreateUser","commandData":"x"}`, 400, codeBadRequest},
		{"DataArray", "POST", "/api/commands", `{"commandType":"CreateUser","commandData":[{}]}`, 400, codeBadRequest},
		{"MetadataArray", "POST", "/api/commands", `{"commandType":"CreateUser","commandData":{},"metadata":[]}`, 400, codeBadRequest},
		{"MetadataString", "POST", "/api/commands", `{"commandType":"CreateUser","commandData":{},"metadata":"m"}`, 400, codeBadRequest},
		{"IDEmpty", "POST", "/api/commands", `{"commandType":"CreateUser","commandData":{},"commandId":""}`, 400, codeBadRequest},
		{"IDTooLong", "POST", "/api/commands", `{"commandType":"CreateUser","commandData":{},"commandId":"` + long + `"}`, 400, codeBadRequest},
		{"IDSlash", "POST", "/api/commands", `{"commandType":"CreateUser","commandData":{},"commandId":"a/b"}`, 400, codeBadRequest},
		{"IDNumber", "POST", "/api/commands", `{"commandType":"CreateUser","commandData":{},"commandId":7}`, 400, codeBadRequest},
		{"ExpectedWord", "POST", "/api/commands", `{"commandType":"CreateUser","commandData":{},"expectedVersion":"latest"}`, 400, codeBadRequest},
		{"ExpectedMinus3", "POST", "/api/commands", `{"commandType":"CreateUser","commandData":{},"expectedVersion":-3}`, 400, codeBadRequest},
		{"ExpectedFraction", "POST", "/api/commands", `{"commandType":"CreateUser","commandData":{},"expectedVersion":1.5}`, 400, codeBadRequest},
		{"AsyncString", "POST", "/api/commands", `{"commandType":"CreateUser","commandData":{},"async":"yes"}`, 400, codeBadRequest},
		{"TooLarge", "POST", "/api/commands", `{"commandType":"CreateUser","commandData":{"x":"` + strings.Repeat("x", 70<<10) + `"}}`, 413, codeTooLarge},
		{"StatusUnknown", "GET", "/api/commands/nope/status", ``, 404, codeNotFound},
		{"StatusIDTooLong", "GET", "/api/commands/" + long + "/status", ``, 400, codeBadRequest},
		{"StatusWrongMethod", "DELETE", "/api/commands/ok/status", ``, 405, codeBadRequest},
		{"PutNotJSON", "PUT", "/api/command-handlers/X", `{`, 400, codeInvalidJSON},
		{"PutUnknownField", "PUT", "/api/command-handlers/X", `{"eventType":"E","streamIdFrom":"commandData.a","expect":"any","extra":1}`, 400, codeBadRequest},
		{"PutNoEventType", "PUT", "/api/command-handlers/X", `{"streamIdFrom":"commandData.a","expect":"any"}`, 400, codeBadRequest},
		{"PutNoStreamFrom", "PUT", "/api/command-handlers/X", `{"eventType":"E","expect":"any"}`, 400, codeBadRequest},
		{"PutNoExpect", "PUT", "/api/command-handlers/X", `{"eventType":"E","streamIdFrom":"commandData.a"}`, 400, codeBadRequest},
		{"PutBadEventType", "PUT", "/api/command-handlers/X", `{"eventType":"9E","streamIdFrom":"commandData.a","expect":"any"}`, 400, codeInvalidEventType},
		{"PutBadStreamFrom", "PUT", "/api/command-handlers/X", `{"eventType":"E","streamIdFrom":"eventData.a","expect":"any"}`, 400, codeBadRequest},
		{"PutBadData", "PUT", "/api/command-handlers/X", `{"eventType":"E","streamIdFrom":"commandData.a","expect":"any","data":"commandData."}`, 400, codeBadRequest},
		{"PutBadExpect", "PUT", "/api/command-handlers/X", `{"eventType":"E","streamIdFrom":"commandData.a","expect":"maybe"}`, 400, codeBadRequest},
		{"PutExpectNumber", "PUT", "/api/command-handlers/X", `{"eventType":"E","streamIdFrom":"commandData.a","expect":1}`, 400, codeBadRequest},
		{"PutBuiltIn", "PUT", "/api/command-handlers/CreateUser", `{"eventType":"E","streamIdFrom":"commandData.a","expect":"any"}`, 400, codeBadRequest},
		{"PutBadCommandType", "PUT", "/api/command-handlers/9X", `{"eventType":"E","streamIdFrom":"commandData.a","expect":"any"}`, 400, codeBadRequest},
		{"GetUnknownHandler", "GET", "/api/command-handlers/Nope", ``, 404, codeNotFound},
	}
	head, total := e.store.Head(), e.svc.Total()
	for _, c := range cases {
		var body any
		if c.body != "" {
			body = c.body
		}
		r := e.do(c.method, c.path, body)
		if r.status != c.status || r.v["code"] != c.code || r.v["success"] != false || r.v["error"] == "" {
			t.Errorf("%s: want %d %s, got %d %s", c.name, c.status, c.code, r.status, r.body)
		}
	}
	if e.store.Head() != head || e.svc.Total() != total {
		t.Fatalf("bad input changed the store: head %d→%d, totalCommands %d→%d", head, e.store.Head(), total, e.svc.Total())
	}
}

// TestCommandResendAfterRestart: the answers to resends survive a restart.
func TestCommandResendAfterRestart(t *testing.T) {
	e := newCmdEnv(t, Config{})
	ok := e.post("/api/commands", createCmd("u1", "r1"))
	ok.ok(t, 201)
	bad := e.post("/api/commands", M{"commandType": "DeleteUser", "commandId": "r2", "commandData": M{"userId": "nobody"}})
	bad.fail(t, 422, codeCommandFailed)
	st := e.get("/api/commands/r1/status")
	e2 := e.reopen(Config{})
	sameReply(t, ok, e2.post("/api/commands", createCmd("u1", "r1")))
	sameReply(t, bad, e2.post("/api/commands", M{"commandType": "DeleteUser", "commandId": "r2", "commandData": M{"userId": "nobody"}}))
	sameReply(t, st, e2.get("/api/commands/r1/status"))
	if h := e2.get("/health"); h.v["totalCommands"] != json.Number("2") {
		t.Fatalf("totalCommands %v after a restart", h.v["totalCommands"])
	}
}

// TestCommandConcurrentSends: identical sends at once run once and get
// the same answer.
func TestCommandConcurrentSends(t *testing.T) {
	e := newCmdEnv(t, Config{})
	body, _ := json.Marshal(createCmd("u1", "same"))
	const n = 10
	replies := make(chan *reply, n)
	for range n {
		go func() {
			req, _ := http.NewRequest("POST", e.ts.URL+"/api/commands", bytes.NewReader(body))
			res, err := e.hc.Do(req)
			if err != nil {
				replies <- nil
				return
			}
			defer res.Body.Close()
			r := &reply{status: res.StatusCode}
			dec := json.NewDecoder(res.Body)
			dec.UseNumber()
			_ = dec.Decode(&r.v)
			replies <- r
		}()
	}
	first := <-replies
	if first == nil || first.status != 201 {
		t.Fatalf("first %+v", first)
	}
	for range n - 1 {
		r := <-replies
		if r == nil {
			t.Fatal("a send failed")
		}
		sameReply(t, first, r)
	}
	if evs := arr(t, e.get("/api/events/u1").ok(t, 200)["events"]); len(evs) != 1 {
		t.Fatalf("ran %d times", len(evs))
	}
}
