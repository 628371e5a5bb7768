package command

import (
	"errors"
	"strings"
	"testing"

	"github.com/eventd/eventd/engine"
)

var (
	openDef    = HandlerDef{EventType: "AccountOpened", StreamIDFrom: "commandData.accountId", Expect: ExpectNew, Data: "commandData"}
	depositDef = HandlerDef{EventType: "Deposited", StreamIDFrom: "commandData.accountId", Expect: ExpectExisting, Data: "commandData.deposit"}
	noteDef    = HandlerDef{EventType: "Noted", StreamIDFrom: "commandData.ref.stream", Expect: ExpectAny, Data: "commandData"}
)

func (e *env) put(typ string, d HandlerDef) (Handler, bool) {
	e.t.Helper()
	h, created, err := e.svc.PutHandler(ctx, typ, d)
	if err != nil {
		e.t.Fatalf("PutHandler(%s): %v", typ, err)
	}
	return h, created
}

func TestPutHandler(t *testing.T) {
	e := newEnv(t)
	h, created := e.put("OpenAccount", openDef)
	if !created || h.CommandType != "OpenAccount" || h.HandlerDef != openDef || h.BuiltIn || h.UpdatedAt.IsZero() {
		t.Fatalf("created %v %+v", created, h)
	}
	head := e.st.Head()
	// The same definition again writes nothing; another one replaces it.
	if h2, created := e.put("OpenAccount", openDef); created || h2.UpdatedAt != h.UpdatedAt || e.st.Head() != head {
		t.Fatalf("an unchanged PUT: created %v, head %d→%d", created, head, e.st.Head())
	}
	changed := openDef
	changed.EventType = "AccountCreated"
	if h3, created := e.put("OpenAccount", changed); created || h3.EventType != "AccountCreated" {
		t.Fatalf("replace: created %v %+v", created, h3)
	}
	evs := e.events(handlersStream)
	if len(evs) != 2 || evs[1].Type != evRegistered {
		t.Fatalf("%s has %d events", handlersStream, len(evs))
	}
	if got := decode(t, evs[1].Data); got["commandType"] != "OpenAccount" || got["eventType"] != "AccountCreated" || got["expect"] != "new" {
		t.Fatalf("definition event %s", evs[1].Data)
	}

	cases := []struct {
		name string
		typ  string
		d    HandlerDef
		kind error
		msg  string
	}{
		{"BuiltIn", "CreateUser", openDef, ErrInvalid, "built in"},
		{"BadCommandType", "9Open", openDef, ErrInvalid, "invalid command type"},
		{"EmptyCommandType", "", openDef, ErrInvalid, "invalid command type"},
		{"BadEventType", "X", HandlerDef{EventType: "a b", StreamIDFrom: "commandData.a", Expect: ExpectAny, Data: "commandData"}, engine.ErrInvalidEventType, "eventType"},
		{"EmptyEventType", "X", HandlerDef{StreamIDFrom: "commandData.a", Expect: ExpectAny, Data: "commandData"}, engine.ErrInvalidEventType, "eventType"},
		{"StreamFromRoot", "X", HandlerDef{EventType: "E", StreamIDFrom: "commandData", Expect: ExpectAny, Data: "commandData"}, ErrInvalid, "streamIdFrom"},
		{"StreamFromMetadata", "X", HandlerDef{EventType: "E", StreamIDFrom: "metadata.a", Expect: ExpectAny, Data: "commandData"}, ErrInvalid, "streamIdFrom"},
		{"StreamFromEmptyField", "X", HandlerDef{EventType: "E", StreamIDFrom: "commandData..a", Expect: ExpectAny, Data: "commandData"}, ErrInvalid, "streamIdFrom"},
		{"StreamFromTrailingDot", "X", HandlerDef{EventType: "E", StreamIDFrom: "commandData.a.", Expect: ExpectAny, Data: "commandData"}, ErrInvalid, "streamIdFrom"},
		{"StreamFromTooLong", "X", HandlerDef{EventType: "E", StreamIDFrom: "commandData." + strings.Repeat("a", 300), Expect: ExpectAny, Data: "commandData"}, ErrInvalid, "streamIdFrom"},
		{"DataOther", "X", HandlerDef{EventType: "E", StreamIDFrom: "commandData.a", Expect: ExpectAny, Data: "eventData"}, ErrInvalid, "data"},
		{"DataEmpty", "X", HandlerDef{EventType: "E", StreamIDFrom: "commandData.a", Expect: ExpectAny}, ErrInvalid, "data"},
		{"ExpectEmpty", "X", HandlerDef{EventType: "E", StreamIDFrom: "commandData.a", Data: "commandData"}, ErrInvalid, "expect"},
		{"ExpectOther", "X", HandlerDef{EventType: "E", StreamIDFrom: "commandData.a", Expect: "exists", Data: "commandData"}, ErrInvalid, "expect"},
	}
	for _, c := range cases {
		_, _, err := e.svc.PutHandler(ctx, c.typ, c.d)
		if !isInput(err, c.kind) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: err %v, want %v naming %q", c.name, err, c.kind, c.msg)
		}
	}
	if len(e.events(handlersStream)) != 2 {
		t.Fatal("a refused definition was written")
	}
	var types []string
	for _, h := range e.svc.Handlers() {
		types = append(types, h.CommandType)
		if h.BuiltIn != (h.CommandType != "OpenAccount") {
			t.Fatalf("listed %+v", h)
		}
	}
	if strings.Join(types, ",") != "CreateUser,DeleteUser,OpenAccount,UpdateUser" {
		t.Fatalf("Handlers() = %v", types)
	}
}

func TestRegisteredHandlers(t *testing.T) {
	e := newEnv(t)
	e.put("OpenAccount", openDef)
	e.put("Deposit", depositDef)
	e.put("Note", noteDef)

	o := e.submit(req("OpenAccount", "", `{"accountId":"acct-1","owner":"Ann"}`))
	if r := completed(t, o); r.StreamID != "acct-1" || r.Events[0].Type != "AccountOpened" {
		t.Fatalf("result %+v", r)
	}
	if ev := e.events("acct-1")[0]; string(ev.Data) != `{"accountId":"acct-1","owner":"Ann"}` {
		t.Fatalf("data %s: want commandData as sent", ev.Data)
	}
	failed(t, e.submit(req("OpenAccount", "", `{"accountId":"acct-1"}`)), 422, CodeCommandFailed) // expect new

	completed(t, e.submit(req("Deposit", "", `{"accountId":"acct-1","deposit":{"amount":5,"b":{"z":1,"a":2}}}`)))
	if ev := e.events("acct-1")[1]; ev.Type != "Deposited" || string(ev.Data) != `{"amount":5,"b":{"a":2,"z":1}}` {
		t.Fatalf("deposit event %s %s", ev.Type, ev.Data)
	}
	for _, bad := range []struct{ data, msg string }{
		{`{"accountId":"acct-2","deposit":{"amount":1}}`, "does not exist"},
		{`{"accountId":"acct-1"}`, "commandData.deposit is missing"},
		{`{"accountId":"acct-1","deposit":5}`, "must be an object"},
		{`{"deposit":{}}`, "commandData.accountId is missing"},
		{`{"accountId":["a"],"deposit":{}}`, "must be a string"},
	} {
		o := e.submit(req("Deposit", "", bad.data))
		if f := failed(t, o, 422, CodeCommandFailed); !strings.Contains(f.Message, bad.msg) {
			t.Fatalf("%s: reason %q, want %q", bad.data, f.Message, bad.msg)
		}
	}
	// expect any, with a nested stream path.
	for v := uint64(1); v <= 2; v++ {
		if r := completed(t, e.submit(req("Note", "", `{"ref":{"stream":"notes-1"},"text":"hi"}`))); r.Version != v {
			t.Fatalf("note %d at version %d", v, r.Version)
		}
	}
	// existing refuses a deleted stream (the reducer's state says so).
	if _, err := e.st.Append(ctx, "acct-1", engine.Any, []engine.Proposed{{Type: "AccountDeleted", Data: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	failed(t, e.submit(req("Deposit", "", `{"accountId":"acct-1","deposit":{"amount":1}}`)), 422, CodeCommandFailed)
}

// TestHandlerChangedWhileQueued: an async command runs under the
// definition in effect when it runs.
func TestHandlerChangedWhileQueued(t *testing.T) {
	e := newEnv(t)
	e.put("Note", HandlerDef{EventType: "Noted", StreamIDFrom: "commandData.a", Expect: ExpectAny, Data: "commandData"})
	release := e.hold("s-a")
	r := req("Note", "q1", `{"a":"s-a","b":"s-b"}`)
	r.Async = true
	e.submit(r)
	e.put("Note", HandlerDef{EventType: "NotedB", StreamIDFrom: "commandData.b", Expect: ExpectAny, Data: "commandData"})
	release()
	res := completed(t, e.waitFinal("q1"))
	if res.StreamID != "s-b" || res.Events[0].Type != "NotedB" || e.version("s-a") != 0 {
		t.Fatalf("result %+v", res)
	}
}

func TestUnknownAfterRestartIsNotFatal(t *testing.T) {
	e := newEnv(t)
	// A definition the rules refuse (written by hand here; an upgrade that
	// tightened a rule could leave one) is skipped, not fatal.
	if _, err := e.st.Append(ctx, handlersStream, engine.Any, []engine.Proposed{
		{Type: evRegistered, Data: []byte(`{"commandType":"X","eventType":"1bad","streamIdFrom":"commandData.a","expect":"any","data":"commandData"}`)},
		{Type: "SomethingNewer", Data: []byte(`{}`)},
	}); err != nil {
		t.Fatal(err)
	}
	e.reopen(Options{})
	if _, err := e.svc.Submit(ctx, req("X", "", `{"a":"s"}`)); !errors.Is(err, ErrUnknownCommand) {
		t.Fatalf("a skipped definition: %v", err)
	}
	// The next PUT continues the stream at its real version.
	e.put("X", HandlerDef{EventType: "Xed", StreamIDFrom: "commandData.a", Expect: ExpectAny, Data: "commandData"})
	completed(t, e.submit(req("X", "", `{"a":"s"}`)))
}
