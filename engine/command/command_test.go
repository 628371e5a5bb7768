package command

import (
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/eventd/eventd/engine"
)

func TestCreateUserSync(t *testing.T) {
	e := newEnv(t)
	o := e.submit(createUser("u1", "c1"))
	res := completed(t, o)
	if o.Command.ID != "c1" || o.Command.Type != "CreateUser" {
		t.Fatalf("command %+v", o.Command)
	}
	if res.StreamID != "u1" || res.Version != 1 || len(res.Events) != 1 {
		t.Fatalf("result %+v", res)
	}
	evs := e.events("u1")
	if len(evs) != 1 || evs[0].Type != "UserCreated" || evs[0].ID != res.Events[0].ID || evs[0].Position != res.Events[0].Position {
		t.Fatalf("stored %+v, result %+v", evs, res.Events)
	}
	if got := decode(t, evs[0].Data); got["email"] != "u1@example.com" || got["name"] != "Ann" || got["userId"] != "u1" || len(got) != 3 {
		t.Fatalf("UserCreated data %s", evs[0].Data)
	}
	if got := decode(t, evs[0].Metadata); got["commandId"] != "c1" || len(got) != 1 {
		t.Fatalf("metadata %s", evs[0].Metadata)
	}
	if !evs[0].Timestamp.Equal(o.Command.ProcessedAt) {
		t.Fatalf("processedAt %v, event written at %v", o.Command.ProcessedAt, evs[0].Timestamp)
	}
	sys := e.events(commandsStream)
	if len(sys) != 1 || sys[0].Type != evCompleted || sys[0].Position != evs[0].Position+1 {
		t.Fatalf("$commands %+v", sys)
	}
	if e.svc.Total() != 1 {
		t.Fatalf("Total %d", e.svc.Total())
	}
	st, err := e.svc.Status("c1")
	if err != nil {
		t.Fatal(err)
	}
	sameOutcome(t, o, st)
}

func TestServerMadeID(t *testing.T) {
	e := newEnv(t)
	o := e.submit(createUser("u1", ""))
	completed(t, o)
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(o.Command.ID) {
		t.Fatalf("server-made id %q is not a UUIDv7", o.Command.ID)
	}
	if st, err := e.svc.Status(o.Command.ID); err != nil || st.Command.Status != Completed {
		t.Fatalf("status %+v %v", st, err)
	}
}

func TestUpdateThenDelete(t *testing.T) {
	e := newEnv(t)
	completed(t, e.submit(createUser("u1", "")))
	r := completed(t, e.submit(updateUser("u1", "", `{"name":"Bo","age":3}`)))
	if r.Version != 2 || r.Events[0].Type != "UserUpdated" {
		t.Fatalf("update %+v", r)
	}
	r = completed(t, e.submit(deleteUser("u1", "")))
	if r.Version != 3 || r.Events[0].Type != "UserDeleted" {
		t.Fatalf("delete %+v", r)
	}
	st := e.state("u1")
	if st["name"] != "Bo" || st["deleted"] != true || st["age"] != json.Number("3") || st["email"] != "u1@example.com" {
		t.Fatalf("state %v", st)
	}
}

// TestRulesBroken: every broken domain rule is a recorded failure (422
// command_failed) that writes nothing to the aggregate.
func TestRulesBroken(t *testing.T) {
	e := newEnv(t)
	completed(t, e.submit(createUser("live", "")))
	completed(t, e.submit(createUser("gone", "")))
	completed(t, e.submit(deleteUser("gone", "")))
	cases := []struct {
		name   string
		r      Request
		stream string
		reason string // a part of the message
	}{
		{"CreateExisting", createUser("live", "x1"), "live", "already exists"},
		{"CreateDeleted", createUser("gone", "x2"), "gone", "already exists"},
		{"UpdateMissing", updateUser("nobody", "x3", `{"name":"Z"}`), "nobody", "does not exist"},
		{"UpdateDeleted", updateUser("gone", "x4", `{"name":"Z"}`), "gone", "is deleted"},
		{"DeleteMissing", deleteUser("nobody", "x5"), "nobody", "does not exist"},
		{"DeleteTwice", deleteUser("gone", "x6"), "gone", "is deleted"},
		{"MissingEmail", req("CreateUser", "x7", `{"userId":"n1","name":"A"}`), "n1", "commandData.email is missing"},
		{"NullEmail", req("CreateUser", "x8", `{"userId":"n1","name":"A","email":null}`), "n1", "commandData.email is missing"},
		{"EmptyName", req("CreateUser", "x9", `{"userId":"n1","name":"  ","email":"e"}`), "n1", "commandData.name is empty"},
		{"NameNumber", req("CreateUser", "x10", `{"userId":"n1","name":5,"email":"e"}`), "n1", "must be a string, got a number"},
		{"UnknownField", req("CreateUser", "x11", `{"userId":"n1","name":"A","email":"e","nmae":"B"}`), "n1", `unknown field "nmae"`},
		{"MissingUserId", req("DeleteUser", "x12", `{}`), "", "commandData.userId is missing"},
		{"UserIdNumber", req("DeleteUser", "x13", `{"userId":7}`), "", "must be a string"},
		{"UserIdSystem", req("DeleteUser", "x14", `{"userId":"$commands"}`), "", "system stream"},
		{"UserIdBadChars", req("DeleteUser", "x15", `{"userId":"a b"}`), "", "invalid stream id"},
		{"UpdatesMissing", req("UpdateUser", "x16", `{"userId":"live"}`), "live", "commandData.updates is missing"},
		{"UpdatesEmpty", updateUser("live", "x17", `{}`), "live", "commandData.updates is empty"},
		{"UpdatesNotObject", updateUser("live", "x18", `[1]`), "live", "must be an object, got an array"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before, total, cmds := e.version(c.stream), e.svc.Total(), e.version(commandsStream)
			o, err := e.svc.Submit(ctx, c.r)
			if err != nil {
				t.Fatalf("err %v", err)
			}
			f := failed(t, o, 422, CodeCommandFailed)
			if !strings.Contains(f.Message, c.reason) {
				t.Fatalf("reason %q does not say %q", f.Message, c.reason)
			}
			if c.stream != "" && e.version(c.stream) != before {
				t.Fatalf("stream %s moved from %d to %d", c.stream, before, e.version(c.stream))
			}
			if e.svc.Total() != total+1 || e.version(commandsStream) != cmds+1 {
				t.Fatalf("a failed command must be recorded once: total %d→%d, $commands %d→%d", total, e.svc.Total(), cmds, e.version(commandsStream))
			}
			last := e.events(commandsStream)[cmds]
			if last.Type != evFailed {
				t.Fatalf("recorded %s", last.Type)
			}
			st, err := e.svc.Status(c.r.ID)
			if err != nil {
				t.Fatal(err)
			}
			sameOutcome(t, o, st)
		})
	}
}

// TestInputRefused: requests the service refuses before writing anything.
func TestInputRefused(t *testing.T) {
	e := newEnv(t)
	completed(t, e.submit(createUser("u1", "")))
	cases := []struct {
		name string
		r    Request
		kind error
	}{
		{"UnknownType", req("NoSuchCommand", "", `{"userId":"u2"}`), ErrUnknownCommand},
		{"EmptyType", req("", "", `{"userId":"u2"}`), ErrUnknownCommand},
		{"IDTooLong", req("CreateUser", strings.Repeat("i", 129), `{"userId":"u2","email":"e","name":"n"}`), ErrInvalid},
		{"IDNotUTF8", req("CreateUser", "\xff", `{"userId":"u2","email":"e","name":"n"}`), ErrInvalid},
		{"DataArray", req("CreateUser", "", `[1]`), ErrInvalid},
		{"DataNull", req("CreateUser", "", `null`), ErrInvalid},
		{"DataBroken", req("CreateUser", "", `{"userId":`), ErrInvalid},
		{"DataTwoValues", req("CreateUser", "", `{}{}`), ErrInvalid},
		{"MetadataArray", Request{Type: "CreateUser", Data: []byte(`{}`), Metadata: []byte(`[]`), Expected: engine.Any}, ErrInvalid},
		{"MetadataBroken", Request{Type: "CreateUser", Data: []byte(`{}`), Metadata: []byte(`{"a":`), Expected: engine.Any}, ErrInvalid},
		{"ExpectedMinus3", Request{Type: "CreateUser", Data: []byte(`{}`), Expected: -3}, ErrInvalid},
	}
	head, total := e.st.Head(), e.svc.Total()
	for _, c := range cases {
		if _, err := e.svc.Submit(ctx, c.r); !isInput(err, c.kind) {
			t.Errorf("%s: err %v, want an *InputError of %v", c.name, err, c.kind)
		}
	}
	if e.st.Head() != head || e.svc.Total() != total {
		t.Fatalf("refused input changed the store: head %d→%d, total %d→%d", head, e.st.Head(), total, e.svc.Total())
	}
	if _, err := e.svc.Status("nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("status of an unknown id: %v", err)
	}
}

func TestExpectedVersion(t *testing.T) {
	e := newEnv(t)
	completed(t, e.submit(createUser("u1", "")))
	ok := updateUser("u1", "", `{"name":"B"}`)
	ok.Expected = 1
	if r := completed(t, e.submit(ok)); r.Version != 2 {
		t.Fatalf("version %d", r.Version)
	}
	bad := updateUser("u1", "ev1", `{"name":"C"}`)
	bad.Expected, bad.ExpectedRaw = 7, []byte("7")
	first := e.submit(bad)
	f := failed(t, first, 409, CodeWrongExpectedVersion)
	var d map[string]any
	if err := json.Unmarshal(f.Details, &d); err != nil || d["expectedVersion"] != 7.0 || d["currentVersion"] != 2.0 {
		t.Fatalf("details %s", f.Details)
	}
	if e.version("u1") != 2 {
		t.Fatal("a refused command wrote")
	}
	sameOutcome(t, first, e.submit(bad))
	st, _ := e.svc.Status("ev1")
	sameOutcome(t, first, st)

	// The sent spelling is repeated: "no_stream" against an existing stream.
	ns := createUser("u1", "ev2")
	ns.Expected, ns.ExpectedRaw = engine.NoStream, []byte(`"no_stream"`)
	f = failed(t, e.submit(ns), 409, CodeWrongExpectedVersion)
	if string(f.Details) != `{"expectedVersion":"no_stream","currentVersion":2}` {
		t.Fatalf("details %s", f.Details)
	}
	// exists on a new stream; the expected version is checked before the rule.
	ex := updateUser("u9", "", `{"a":1}`)
	ex.Expected = engine.StreamExists
	failed(t, e.submit(ex), 409, CodeWrongExpectedVersion)
	// no_stream matching: CreateUser.
	nn := createUser("u2", "")
	nn.Expected = engine.NoStream
	completed(t, e.submit(nn))
}

func TestIdempotency(t *testing.T) {
	e := newEnv(t)
	first := e.submit(createUser("u1", "c1"))
	completed(t, first)
	head, total := e.st.Head(), e.svc.Total()

	// The same command again; with other metadata, expectedVersion, async;
	// with the data spelled differently.
	sameOutcome(t, first, e.submit(createUser("u1", "c1")))
	r := createUser("u1", "c1")
	r.Metadata, r.Expected, r.ExpectedRaw, r.Async = []byte(`{"retry":2}`), 5, []byte("5"), true
	sameOutcome(t, first, e.submit(r))
	r = req("CreateUser", "c1", "{ \"name\" : \"Ann\", \"email\":\"u1@example.com\",\n\"userId\":\"\\u0075\\u0031\"}")
	sameOutcome(t, first, e.submit(r))

	// Another command under the same id.
	for _, other := range []Request{createUser("u2", "c1"), updateUser("u1", "c1", `{"a":1}`), req("CreateUser", "c1", `{"userId":"u1","email":"u1@example.com","name":"Ann "}`)} {
		if _, err := e.svc.Submit(ctx, other); !errors.Is(err, ErrDuplicateCommand) {
			t.Fatalf("%s %s under a used id: %v", other.Type, other.Data, err)
		}
	}
	if e.st.Head() != head || e.svc.Total() != total || e.version("u2") != 0 {
		t.Fatalf("resends wrote: head %d→%d total %d→%d", head, e.st.Head(), total, e.svc.Total())
	}

	// A failure is the answer for ever, even once the command would succeed.
	f1 := e.submit(deleteUser("u3", "d1"))
	failed(t, f1, 422, CodeCommandFailed)
	completed(t, e.submit(createUser("u3", "")))
	sameOutcome(t, f1, e.submit(deleteUser("u3", "d1")))
	if e.version("u3") != 1 {
		t.Fatal("a resent failed command ran")
	}
}

func TestMetadata(t *testing.T) {
	e := newEnv(t)
	r := createUser("u1", "c1")
	r.Metadata = []byte(`{"user":"ops","commandId":"forged","n":1.50}`)
	completed(t, e.submit(r))
	ev := e.events("u1")[0]
	if string(ev.Metadata) != `{"commandId":"c1","n":1.50,"user":"ops"}` {
		t.Fatalf("metadata %s", ev.Metadata)
	}
}

// TestConcurrentIdenticalSends: the same command sent by many callers at
// once runs once; every caller gets its outcome.
func TestConcurrentIdenticalSends(t *testing.T) {
	e := newEnv(t)
	const n = 20
	outs := make(chan Outcome, n)
	errs := make(chan error, n)
	start := make(chan struct{})
	for range n {
		go func() {
			<-start
			o, err := e.svc.Submit(ctx, createUser("u1", "same"))
			outs <- o
			errs <- err
		}()
	}
	close(start)
	var first Outcome
	for i := range n {
		o, err := <-outs, <-errs
		if err != nil {
			t.Fatal(err)
		}
		completed(t, o)
		if i == 0 {
			first = o
		} else {
			sameOutcome(t, first, o)
		}
	}
	if len(e.events("u1")) != 1 || e.svc.Total() != 1 || len(e.events(commandsStream)) != 1 {
		t.Fatalf("ran more than once: %d events, total %d", len(e.events("u1")), e.svc.Total())
	}
}

// refuseBadEmail is a schema validator: UserCreated's email must not be "bad".
type refuseBadEmail struct{}

func (refuseBadEmail) Validate(_ string, e *engine.Proposed) error {
	if e.Type == "UserCreated" && strings.Contains(string(e.Data), `"email":"bad"`) {
		return &engine.SchemaViolationError{Type: e.Type, Version: 1, Violations: []engine.Violation{{Path: "/email", Message: "not an email"}}}
	}
	return nil
}

// TestSchemaViolation: an event refused by its type's schema fails the
// command (recorded, 422 schema_violation with the append's details).
func TestSchemaViolation(t *testing.T) {
	e := newEnv(t)
	e.st.SetValidator(refuseBadEmail{})
	r := req("CreateUser", "s1", `{"userId":"u1","email":"bad","name":"A"}`)
	first := e.submit(r)
	f := failed(t, first, 422, CodeSchemaViolation)
	if string(f.Details) != `{"event":0,"eventType":"UserCreated","schemaVersion":1,"violations":[{"path":"/email","message":"not an email"}]}` {
		t.Fatalf("details %s", f.Details)
	}
	if e.version("u1") != 0 || e.svc.Total() != 1 {
		t.Fatal("a refused event was written, or the failure not recorded")
	}
	sameOutcome(t, first, e.submit(r))
	a := req("CreateUser", "s2", `{"userId":"u2","email":"bad","name":"A"}`)
	a.Async = true
	e.submit(a)
	failed(t, e.waitFinal("s2"), 422, CodeSchemaViolation)
	completed(t, e.submit(createUser("u1", "")))
}

// TestZeroExpectedIsAbsent: a Request's zero Expected means no check (Go
// callers need not set it); "no stream" is engine.NoStream.
func TestZeroExpectedIsAbsent(t *testing.T) {
	e := newEnv(t)
	completed(t, e.submit(Request{Type: "CreateUser", Data: []byte(`{"userId":"u1","email":"e","name":"n"}`)}))
	completed(t, e.submit(Request{Type: "UpdateUser", Data: []byte(`{"userId":"u1","updates":{"a":1}}`)}))
	failed(t, e.submit(Request{Type: "UpdateUser", Data: []byte(`{"userId":"u1","updates":{"a":2}}`), Expected: engine.NoStream}), 409, CodeWrongExpectedVersion)
}
