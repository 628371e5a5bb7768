package engine

import (
	"bytes"
	"errors"
	"testing"
)

// bumpUpcaster upcasts type "Old" v1 to v2 by wrapping the data: {"v2":<data>}.
// Type "Bad" cannot be upcast.
type bumpUpcaster struct{}

func (bumpUpcaster) Upcast(e *Event, dst []byte) ([]byte, uint32, bool, error) {
	switch {
	case e.Type == "Bad":
		return nil, 0, false, errors.New("op move: a string where an object was wanted")
	case e.Type != "Old" || e.SchemaVersion >= 2:
		return nil, 0, false, nil
	}
	dst = append(dst, `{"v2":`...)
	dst = append(dst, e.Data...)
	return append(dst, '}'), 2, true, nil
}

type refuseAmountless struct{}

func (refuseAmountless) Validate(stream string, e *Proposed) error {
	if e.Type == "Payment" && !bytes.Contains(e.Data, []byte(`"amount"`)) {
		return &SchemaViolationError{Type: e.Type, Version: 1, Violations: []Violation{{Path: "/amount", Message: "missing"}}}
	}
	if e.Type == "Plain" && len(e.Data) > 10 {
		return errors.New("too long")
	}
	return nil
}

func TestUpcastOnEveryRead(t *testing.T) {
	s := openT(t, t.TempDir(), Options{Fsync: FsyncNever})
	defer s.Close()
	mustAppend(t, s, "p-1", Any, Proposed{Type: "Old", Data: []byte(`{"a":1}`)}, Proposed{Type: "Old", Data: []byte(`{"a":2}`)},
		Proposed{Type: "Old", SchemaVersion: 2, Data: []byte(`{"b":3}`)}, Proposed{Type: "New", Data: []byte(`{"c":4}`)})
	mustAppend(t, s, "$sys", Any, Proposed{Type: "Old", Data: []byte(`{"s":1}`)})
	s.SetUpcaster(bumpUpcaster{})
	want := []string{`{"v2":{"a":1}}`, `{"v2":{"a":2}}`, `{"b":3}`, `{"c":4}`}
	check := func(name string, evs []Event) {
		t.Helper()
		if len(evs) != 4 {
			t.Fatalf("%s: %d events", name, len(evs))
		}
		for i, e := range evs {
			if string(e.Data) != want[i] || (i < 3 && e.SchemaVersion != 2) || (i == 3 && e.SchemaVersion != 1) {
				t.Fatalf("%s: event %d: v%d %s, want %s", name, i, e.SchemaVersion, e.Data, want[i])
			}
		}
	}
	page, err := s.ReadStream("p-1", 0, Forward, 10)
	if err != nil {
		t.Fatal(err)
	}
	check("ReadStream", page.Events)
	all, err := s.ReadAll(0, Forward, 10, Filter{StreamPrefix: "p-"})
	if err != nil {
		t.Fatal(err)
	}
	check("ReadAll", all.Events)
	// Pooled reads: each event is right while the callback sees it.
	var got []Event
	keep := func(e *Event) error {
		c := *e
		c.Data = bytes.Clone(e.Data)
		got = append(got, c)
		return nil
	}
	if _, _, err := s.ReadStreamFunc("p-1", 0, Forward, 10, keep); err != nil {
		t.Fatal(err)
	}
	check("ReadStreamFunc", got)
	got = nil
	if _, _, err := s.ReadAllFunc(0, Forward, 10, Filter{ExcludeSystem: true}, keep); err != nil {
		t.Fatal(err)
	}
	check("ReadAllFunc", got)
	sub := s.Subscribe(0, Filter{ExcludeSystem: true})
	evs, err := sub.Next(ctx, 10)
	sub.Close()
	if err != nil {
		t.Fatal(err)
	}
	check("Subscribe", evs)
	sub = s.SubscribeStream("p-1", 0, 0)
	evs, err = sub.Next(ctx, 10)
	sub.Close()
	if err != nil {
		t.Fatal(err)
	}
	check("SubscribeStream", evs)
	// As stored.
	stored, err := s.Stored().ReadStream("p-1", 0, Forward, 10)
	if err != nil || string(stored.Events[0].Data) != `{"a":1}` || stored.Events[0].SchemaVersion != 1 {
		t.Fatalf("Stored().ReadStream: %v %+v", err, stored.Events)
	}
	sub = s.Stored().Subscribe(0, Filter{ExcludeSystem: true})
	evs, _ = sub.Next(ctx, 10)
	sub.Close()
	if string(evs[0].Data) != `{"a":1}` {
		t.Fatalf("Stored().Subscribe: %s", evs[0].Data)
	}
	// System streams are never upcast.
	sys, _ := s.ReadStream("$sys", 0, Forward, 10)
	if string(sys.Events[0].Data) != `{"s":1}` {
		t.Fatalf("a system stream was upcast: %s", sys.Events[0].Data)
	}
	// An event the chain cannot upcast fails the read, naming it; stored reads still work.
	bad := mustAppend(t, s, "p-2", Any, Proposed{Type: "Bad", Data: []byte(`{}`)})
	var ue *UpcastError
	if _, err := s.ReadStream("p-2", 0, Forward, 10); !errors.As(err, &ue) || !errors.Is(err, ErrUpcast) || ue.Position != bad.FirstPosition {
		t.Fatalf("an event that cannot be upcast: %v", err)
	}
	if _, _, err := s.Stored().ReadAllFunc(0, Forward, 100, Filter{}, func(*Event) error { return nil }); err != nil {
		t.Fatalf("stored $all over it: %v", err)
	}
}

func TestValidatorOnEveryAppend(t *testing.T) {
	s := openT(t, t.TempDir(), Options{Fsync: FsyncNever})
	defer s.Close()
	s.SetValidator(refuseAmountless{})
	mustAppend(t, s, "pay-1", Any, Proposed{Type: "Payment", Data: []byte(`{"amount":1}`)})
	_, err := s.Append(ctx, "pay-1", Any, []Proposed{{Type: "Payment", Data: []byte(`{"amount":2}`)}, {Type: "Payment", Data: []byte(`{}`)}})
	var sv *SchemaViolationError
	if !errors.As(err, &sv) || sv.Index != 1 || sv.Violations[0].Path != "/amount" || !errors.Is(err, ErrSchemaViolation) {
		t.Fatalf("a batch with one bad event: %v", err)
	}
	if _, err := s.Append(ctx, "pay-1", Any, []Proposed{{Type: "Plain", Data: []byte(`{"long":"data"}`)}}); !errors.As(err, &sv) || sv.Violations[0].Message != "too long" {
		t.Fatalf("a plain validator error becomes a violation: %v", err)
	}
	if _, err := s.AppendMulti(ctx, []StreamAppend{{StreamID: "a", Expected: Any, Events: []Proposed{{Type: "T", Data: []byte(`{}`)}}},
		{StreamID: "pay-2", Expected: Any, Events: []Proposed{{Type: "Payment", Data: []byte(`{}`)}}}}); !errors.Is(err, ErrSchemaViolation) {
		t.Fatalf("AppendMulti: %v", err)
	}
	mustAppend(t, s, "$sys", Any, Proposed{Type: "Payment", Data: []byte(`{}`)}) // system streams are not validated
	if s.Head() != 2 {
		t.Fatalf("head %d: refused appends wrote something", s.Head())
	}
}

// An UpcastError outlives the read: it must not alias the read's pooled
// buffer, which the next read reuses (found by a review).
func TestUpcastErrorOwnsItsStrings(t *testing.T) {
	s := openT(t, t.TempDir(), Options{Fsync: FsyncNever})
	defer s.Close()
	mustAppend(t, s, "p-1", Any, Proposed{Type: "Bad", Data: []byte(`{"a":1}`)})
	mustAppend(t, s, "q-1", Any, Proposed{Type: "Zzz", Data: []byte(`{"zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz":1}`)})
	s.SetUpcaster(bumpUpcaster{})
	_, _, err := s.ReadStreamFunc("p-1", 0, Forward, 10, func(*Event) error { return nil })
	var ue *UpcastError
	if !errors.As(err, &ue) {
		t.Fatalf("want an UpcastError, got %v", err)
	}
	for i := 0; i < 50; i++ {
		_, _, _ = s.ReadStreamFunc("q-1", 0, Forward, 10, func(*Event) error { return nil })
	}
	if ue.Type != "Bad" {
		t.Fatalf("UpcastError.Type changed after another read: %q", ue.Type)
	}
}
