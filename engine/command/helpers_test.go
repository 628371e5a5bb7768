package command

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"log/slog"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/eventd/eventd/engine"
	"github.com/eventd/eventd/engine/jsonv"
	"github.com/eventd/eventd/engine/reducer"
)

var ctx = context.Background()

// TestMain lets the test binary double as the crash test's child process.
func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		crashChild(dir)
		return
	}
	flag.Parse()
	if !testing.Verbose() {
		slog.SetDefault(slog.New(slog.DiscardHandler))
	}
	os.Exit(m.Run())
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func openStore(t testing.TB, dir string) *engine.Store {
	t.Helper()
	st, err := engine.Open(dir, engine.Options{Fsync: engine.FsyncNever, Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func openSvc(t testing.TB, log Log, opts Options) *Service {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quiet()
	}
	s, err := Open(log, reducer.NewRegistry(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// env is a store and a service over it in a temp dir; both close at the
// end of the test (the service first).
type env struct {
	t   *testing.T
	dir string
	st  *engine.Store
	svc *Service
}

func newEnv(t *testing.T) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir()}
	e.open(Options{})
	t.Cleanup(e.close)
	return e
}

func (e *env) open(opts Options) {
	e.t.Helper()
	e.st = openStore(e.t, e.dir)
	e.svc = openSvc(e.t, e.st, opts)
}

func (e *env) close() {
	if e.svc != nil {
		_ = e.svc.Close()
		e.svc = nil
	}
	if e.st != nil {
		_ = e.st.Close()
		e.st = nil
	}
}

// reopen closes the service and the store and opens both again: a clean
// restart.
func (e *env) reopen(opts Options) {
	e.t.Helper()
	e.close()
	e.open(opts)
}

func req(typ, id string, data string) Request {
	return Request{Type: typ, ID: id, Data: []byte(data), Expected: engine.Any}
}

func createUser(u, id string) Request {
	return req("CreateUser", id, `{"userId":"`+u+`","email":"`+u+`@example.com","name":"Ann"}`)
}

func updateUser(u, id, updates string) Request {
	return req("UpdateUser", id, `{"userId":"`+u+`","updates":`+updates+`}`)
}

func deleteUser(u, id string) Request { return req("DeleteUser", id, `{"userId":"`+u+`"}`) }

// submit runs r and fails the test on an error.
func (e *env) submit(r Request) Outcome {
	e.t.Helper()
	o, err := e.svc.Submit(ctx, r)
	if err != nil {
		e.t.Fatalf("Submit(%s %s): %v", r.Type, r.Data, err)
	}
	return o
}

// completed asserts a completed outcome and returns its result.
func completed(t testing.TB, o Outcome) *Result {
	t.Helper()
	c := o.Command
	if c.Status != Completed || o.Result == nil || o.Failure != nil || c.Error != "" || c.ProcessedAt.IsZero() || c.CreatedAt.IsZero() {
		t.Fatalf("want a completed command, got %+v (result %+v, failure %+v)", c, o.Result, o.Failure)
	}
	if c.ProcessedAt.Before(c.CreatedAt.Truncate(time.Millisecond)) {
		t.Fatalf("processedAt %v before createdAt %v", c.ProcessedAt, c.CreatedAt)
	}
	return o.Result
}

// failed asserts a failed outcome with status and code.
func failed(t testing.TB, o Outcome, status int, code string) *Failure {
	t.Helper()
	c := o.Command
	if c.Status != Failed || o.Failure == nil || o.Result != nil || c.Error == "" || c.ProcessedAt.IsZero() {
		t.Fatalf("want a failed command, got %+v (result %+v, failure %+v)", c, o.Result, o.Failure)
	}
	if o.Failure.HTTPStatus != status || o.Failure.Code != code || o.Failure.Message != c.Error {
		t.Fatalf("want failure %d %s, got %+v", status, code, o.Failure)
	}
	return o.Failure
}

// version is a stream's current version.
func (e *env) version(stream string) uint64 {
	info, _ := e.st.Stream(stream)
	return info.Version
}

// events reads a whole stream.
func (e *env) events(stream string) []engine.Event {
	e.t.Helper()
	p, err := e.st.ReadStream(stream, 0, engine.Forward, 100000)
	if err != nil {
		e.t.Fatal(err)
	}
	return p.Events
}

// state replays a stream with the default reducer.
func (e *env) state(stream string) reducer.State {
	e.t.Helper()
	res, err := reducer.Replay(e.st, stream, nil, 0, e.version(stream), reducer.Default, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return res.State
}

func decode(t testing.TB, b []byte) map[string]any {
	t.Helper()
	m, err := jsonv.DecodeObject(b)
	if err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return m
}

// sameOutcome asserts that again repeats first exactly.
func sameOutcome(t testing.TB, first, again Outcome) {
	t.Helper()
	if !reflect.DeepEqual(norm(first), norm(again)) {
		t.Fatalf("want the first outcome repeated:\nfirst: %+v %+v %+v\nagain: %+v %+v %+v",
			first.Command, first.Result, first.Failure, again.Command, again.Result, again.Failure)
	}
}

// norm makes outcomes comparable: times at the API's precision, details
// as decoded JSON.
func norm(o Outcome) any {
	type view struct {
		C       Command
		R       *Result
		F       *Failure
		Details any
	}
	v := view{C: o.Command, R: o.Result}
	v.C.CreatedAt = v.C.CreatedAt.Truncate(time.Millisecond).UTC()
	v.C.ProcessedAt = v.C.ProcessedAt.Truncate(time.Millisecond).UTC()
	if o.Failure != nil {
		f := *o.Failure
		if f.Details != nil {
			_ = json.Unmarshal(f.Details, &v.Details)
		}
		f.Details = nil
		v.F = &f
	}
	return v
}

func isInput(err, kind error) bool {
	var ie *InputError
	return errors.As(err, &ie) && errors.Is(err, kind)
}
