package reducer

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/eventd/eventd/engine"
)

func one(o Op) []Op { return []Op{o} }

func TestOpSemantics(t *testing.T) {
	red, err := Compile(Definition{Name: "ops", Category: "ops", Handlers: map[string][]Op{
		"Opened": {
			{Op: "merge"},
			{Op: "set", Path: "openedAt", From: "timestamp"},
			{Op: "set", Path: "meta.by", From: "metadata.user"},
		},
		"Deposited": one(Op{Op: "increment", Path: "balance", From: "eventData.amount"}),
		"Bumped":    one(Op{Op: "increment", Path: "bumps"}),
		"BumpedBy":  one(Op{Op: "increment", Path: "bumps", By: "5"}),
		"Halved":    one(Op{Op: "increment", Path: "ratio", By: "0.5"}),
		"Tagged":    one(Op{Op: "append", Path: "tags", From: "eventData.tag"}),
		"Renamed":   one(Op{Op: "set", Path: "profile.name", From: "eventData.name"}),
		"Patched":   one(Op{Op: "merge", Path: "profile"}),
		"Cleared":   {{Op: "unset", Path: "profile.nick"}, {Op: "unset", Path: "nick"}, {Op: "unset", Path: "no.such.path"}},
		"Recorded":  one(Op{Op: "set", Path: "lastRecord"}),
		"Twice":     {{Op: "set", Path: "x", From: "eventData.obj"}, {Op: "set", Path: "y", From: "eventData.obj"}, {Op: "set", Path: "x.k", From: "eventId"}},
		"Stamped":   {{Op: "set", Path: "lastVersion", From: "version"}, {Op: "set", Path: "sid", From: "streamId"}, {Op: "set", Path: "pos", From: "position"}, {Op: "set", Path: "type", From: "eventType"}},
		"Missing":   {{Op: "set", Path: "owner", From: "eventData.nope"}, {Op: "increment", Path: "balance", From: "eventData.nope"}},
		"Closed":    one(Op{Op: "delete"}),
	}})
	if err != nil {
		t.Fatal(err)
	}
	ts := time.Date(2024, 1, 15, 10, 30, 0, 0, time.UTC)
	n := uint64(0)
	e := func(typ, data, meta string) engine.Event {
		n++
		return engine.Event{Version: n, Position: 100 + n, StreamID: "ops-1", ID: "id" + typ, Type: typ, Data: []byte(data), Metadata: []byte(meta), Timestamp: ts.Add(time.Duration(n) * time.Millisecond)}
	}
	evs := []engine.Event{
		e("Opened", `{"owner":"Ann","nick":"a"}`, `{"user":"u1"}`),
		e("Deposited", `{"amount":5}`, ``), e("Deposited", `{"amount":7}`, ``),
		e("Bumped", `{}`, ``), e("BumpedBy", `{}`, ``), e("Halved", `{}`, ``),
		e("Tagged", `{"tag":"x"}`, ``), e("Tagged", `{"tag":{"y":1}}`, ``),
		e("Renamed", `{"name":"Bo"}`, ``), e("Patched", `{"nick":"b","age":3}`, ``), e("Patched", `{"age":null}`, ``),
		e("Cleared", `{}`, ``), e("Ignored", `{"owner":"Zed"}`, ``), e("Recorded", `{"k":"v"}`, ``),
		e("Twice", `{"obj":{"a":1}}`, ``), e("Stamped", `{}`, ``), e("Missing", `{}`, ``), e("Closed", `{}`, ``),
	}
	var st State
	for i := range evs {
		if st, err = red.Apply(st, &evs[i]); err != nil {
			t.Fatalf("event %d (%s): %v", i, evs[i].Type, err)
		}
	}
	got, _ := EncodeState(nil, st)
	want := `{"balance":12,"bumps":6,"deleted":true,"deletedAt":"2024-01-15T10:30:00.018Z","lastRecord":{"k":"v"},"lastVersion":16,` +
		`"meta":{"by":"u1"},"openedAt":"2024-01-15T10:30:00.001Z","owner":"Ann","pos":116,"profile":{"name":"Bo"},"ratio":0.5,` +
		`"sid":"ops-1","tags":["x",{"y":1}],"type":"Stamped","x":{"a":1,"k":"idTwice"},"y":{"a":1}}`
	if string(got) != want {
		t.Fatalf("state\n got %s\nwant %s", got, want)
	}
}

func TestOpRuntimeErrors(t *testing.T) {
	for name, c := range map[string]struct {
		op    Op
		state State
		data  string
	}{
		"IncrementString":    {Op{Op: "increment", Path: "n", From: "eventData.v"}, State{}, `{"v":"x"}`},
		"IncrementOnString":  {Op{Op: "increment", Path: "n"}, State{"n": "x"}, `{}`},
		"AppendOnObject":     {Op{Op: "append", Path: "a"}, State{"a": map[string]any{}}, `{}`},
		"MergeNonObject":     {Op{Op: "merge", From: "eventData.v"}, State{}, `{"v":[1]}`},
		"SetRootToNumber":    {Op{Op: "set", From: "eventData.v"}, State{}, `{"v":1}`},
		"PathThroughString":  {Op{Op: "set", Path: "a.b"}, State{"a": "s"}, `{}`},
		"IncrementOverflows": {Op{Op: "increment", Path: "n", By: "1e308"}, State{"n": json.Number("1.7e308")}, `{}`},
		"DataNotObject":      {Op{Op: "merge"}, State{}, `[1]`},
	} {
		red, err := Compile(Definition{Name: "r", Handlers: map[string][]Op{"T": {c.op}}})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ev := engine.Event{Version: 3, Type: "T", Data: []byte(c.data)}
		if _, err := red.Apply(c.state, &ev); !errors.Is(err, ErrApply) || !strings.Contains(err.Error(), "version 3") {
			t.Errorf("%s: %v, want ErrApply naming the version", name, err)
		}
	}
	if n, err := addNumbers("9223372036854775807", "1"); err != nil || n != "9223372036854775808" {
		t.Errorf("int64 overflow goes to float: %s %v", n, err)
	}
	if n, _ := addNumbers("123456789012345678901234567890", "1"); n != "123456789012345678901234567891" {
		t.Errorf("big integers stay exact: %s", n)
	}
	if n, _ := addNumbers("1.5", "1"); n != "2.5" {
		t.Errorf("1.5+1 = %s", n)
	}
	if n, _ := addNumbers("-3", "1"); n != "-2" {
		t.Errorf("-3+1 = %s", n)
	}
}

func TestCompileRefuses(t *testing.T) {
	ok := map[string][]Op{"T": one(Op{Op: "merge"})}
	for name, d := range map[string]Definition{
		"NoName":           {Handlers: ok},
		"DefaultName":      {Name: "default", Handlers: ok},
		"BadName":          {Name: "a b", Handlers: ok},
		"DollarName":       {Name: "$r", Handlers: ok},
		"BadCategory":      {Name: "r", Category: "user-x", Handlers: ok},
		"NoHandlers":       {Name: "r"},
		"BadType":          {Name: "r", Handlers: map[string][]Op{"1T": one(Op{Op: "merge"})}},
		"EmptyList":        {Name: "r", Handlers: map[string][]Op{"T": {}}},
		"UnknownOp":        {Name: "r", Handlers: map[string][]Op{"T": one(Op{Op: "explode"})}},
		"MissingOp":        {Name: "r", Handlers: map[string][]Op{"T": one(Op{Path: "a"})}},
		"BadFrom":          {Name: "r", Handlers: map[string][]Op{"T": one(Op{Op: "set", Path: "a", From: "body.x"})}},
		"FieldOfTimestamp": {Name: "r", Handlers: map[string][]Op{"T": one(Op{Op: "set", Path: "a", From: "timestamp.x"})}},
		"EmptySegment":     {Name: "r", Handlers: map[string][]Op{"T": one(Op{Op: "set", Path: "a..b"})}},
		"TrailingDot":      {Name: "r", Handlers: map[string][]Op{"T": one(Op{Op: "set", Path: "a", From: "eventData."})}},
		"UnsetRoot":        {Name: "r", Handlers: map[string][]Op{"T": one(Op{Op: "unset"})}},
		"AppendRoot":       {Name: "r", Handlers: map[string][]Op{"T": one(Op{Op: "append"})}},
		"IncrementRoot":    {Name: "r", Handlers: map[string][]Op{"T": one(Op{Op: "increment"})}},
		"ByOnSet":          {Name: "r", Handlers: map[string][]Op{"T": one(Op{Op: "set", Path: "a", By: "1"})}},
		"ByAndFrom":        {Name: "r", Handlers: map[string][]Op{"T": one(Op{Op: "increment", Path: "a", From: "eventData.x", By: "1"})}},
		"ByNotNumber":      {Name: "r", Handlers: map[string][]Op{"T": one(Op{Op: "increment", Path: "a", By: "x"})}},
		"DeleteWithPath":   {Name: "r", Handlers: map[string][]Op{"T": one(Op{Op: "delete", Path: "a"})}},
	} {
		if _, err := Compile(d); !errors.Is(err, ErrDefinition) {
			t.Errorf("%s: %v, want ErrDefinition", name, err)
		}
	}
}

func TestRevision(t *testing.T) {
	d := Definition{Name: "r", Category: "acct", Handlers: map[string][]Op{"A": one(Op{Op: "merge"}), "B": one(Op{Op: "delete"})}}
	r1, _ := Compile(d)
	r2, _ := Compile(Definition{Name: "r", Category: "acct", Handlers: map[string][]Op{"B": one(Op{Op: "delete"}), "A": one(Op{Op: "merge"})}})
	if r1.Revision() != r2.Revision() {
		t.Fatal("the same definition (map order aside) has two revisions")
	}
	for _, other := range []Definition{
		{Name: "r", Category: "bank", Handlers: d.Handlers},
		{Name: "r", Category: "acct", Handlers: map[string][]Op{"A": one(Op{Op: "merge", Path: "x"}), "B": one(Op{Op: "delete"})}},
		{Name: "r", Category: "acct", Handlers: map[string][]Op{"A": one(Op{Op: "merge"})}},
	} {
		r, _ := Compile(other)
		if r.Revision() == r1.Revision() {
			t.Fatalf("a changed definition kept revision %s: %+v", r1.Revision(), other)
		}
	}
}

// Registrations survive a restart: they are events in $reducers.
func TestRegistryDurable(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	s, err := engine.Open(dir, engine.Options{Fsync: engine.FsyncNever})
	if err != nil {
		t.Fatal(err)
	}
	reg, err := Open(s)
	if err != nil {
		t.Fatal(err)
	}
	d := Definition{Name: "acct-r", Category: "acct", Handlers: map[string][]Op{"Deposited": one(Op{Op: "increment", Path: "balance", From: "eventData.amount"})}}
	e, created, changed, err := reg.Put(ctx, d)
	if err != nil || !created || !changed {
		t.Fatalf("first put: %v %v %v", created, changed, err)
	}
	if _, created, changed, err := reg.Put(ctx, d); err != nil || created || changed {
		t.Fatalf("same put again: created %v changed %v %v", created, changed, err)
	}
	if _, _, _, err := reg.Put(ctx, Definition{Name: "other", Category: "acct", Handlers: d.Handlers}); !errors.Is(err, ErrCategoryTaken) {
		t.Fatalf("a second reducer for a category: %v", err)
	}
	if _, _, _, err := reg.Put(ctx, Definition{Name: "bad", Handlers: map[string][]Op{"T": one(Op{Op: "nope"})}}); !errors.Is(err, ErrDefinition) {
		t.Fatalf("a bad definition: %v", err)
	}
	d2 := d
	d2.Handlers = map[string][]Op{"Deposited": one(Op{Op: "set", Path: "last", From: "eventData.amount"})}
	e2, created, changed, err := reg.Put(ctx, d2)
	if err != nil || created || !changed || e2.Reducer.Revision() == e.Reducer.Revision() {
		t.Fatalf("a changed put: %v %v %v", created, changed, err)
	}
	if info, _ := s.Stream(Stream); info.Version != 2 {
		t.Fatalf("$reducers holds %d events, want 2 (refused and unchanged puts write nothing)", info.Version)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = engine.Open(dir, engine.Options{Fsync: engine.FsyncNever})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	reg, err = Open(s)
	if err != nil {
		t.Fatal(err)
	}
	got := reg.ForStream("acct-9")
	if got.Name() != "acct-r" || got.Revision() != e2.Reducer.Revision() {
		t.Fatalf("after a restart: %s %s", got.Name(), got.Revision())
	}
	def, ok := DefinitionOf(got)
	if !ok || !reflect.DeepEqual(def, d2) {
		t.Fatalf("definition after restart %+v", def)
	}
}

// Values taken from the event survive the reader reusing its buffer.
func TestOpsCopyEventStrings(t *testing.T) {
	red, err := Compile(Definition{Name: "r", Handlers: map[string][]Op{"T": {
		{Op: "set", Path: "s", From: "streamId"}, {Op: "set", Path: "t", From: "eventType"}, {Op: "set", Path: "i", From: "eventId"}}}})
	if err != nil {
		t.Fatal(err)
	}
	buf := []byte("str-1TTid-1")
	e := engine.Event{StreamID: unsafeString(buf[0:5]), Type: unsafeString(buf[5:6]), ID: unsafeString(buf[7:11]), Data: []byte(`{}`)}
	st, err := red.Apply(nil, &e)
	if err != nil {
		t.Fatal(err)
	}
	copy(buf, "XXXXXXXXXXX")
	if st["s"] != "str-1" || st["t"] != "T" || st["i"] != "id-1" {
		t.Fatalf("state aliases the event's buffer: %v", st)
	}
}

func unsafeString(b []byte) string { return unsafe.String(&b[0], len(b)) }
