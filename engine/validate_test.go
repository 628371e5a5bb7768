package engine

import (
	"errors"
	"strings"
	"testing"
)

// The input rules hold on every append, whatever the caller: the engine
// refuses what the API refuses (event-type syntax included), and each kind
// of refusal has its own error.
func TestInputRules(t *testing.T) {
	s := openT(t, t.TempDir(), Options{Fsync: FsyncNever, MaxEventSize: 100})
	defer s.Close()
	long := strings.Repeat("a", MaxStreamIDLen)
	ok := []string{"a", "A9", "user_1", "a.b:c@d+e=f-g", long, "$commands", "$" + long[1:]}
	for _, id := range ok {
		if err := ValidateStreamID(id); err != nil {
			t.Errorf("ValidateStreamID(%q): %v", id, err)
		}
	}
	bad := []string{"", "-a", "_a", "a b", "a/b", "é", long + "a", "$", "$$a", "$-a", "$_a", "$" + long}
	for _, id := range bad {
		if err := ValidateStreamID(id); !errors.Is(err, ErrInvalidStreamID) {
			t.Errorf("ValidateStreamID(%q) = %v, want ErrInvalidStreamID", id, err)
		}
	}
	if err := ValidateClientStreamID("$commands"); !errors.Is(err, ErrInvalidStreamID) || !strings.Contains(err.Error(), "system stream") {
		t.Errorf("ValidateClientStreamID($commands) = %v", err)
	}
	for _, typ := range []string{"", "1A", "_A", "A B", "A@B", "A+", strings.Repeat("A", MaxEventTypeLen+1)} {
		if _, err := s.Append(ctx, "a", Any, []Proposed{ev(typ, `{}`)}); !errors.Is(err, ErrInvalidEventType) || !errors.Is(err, ErrInvalidEvent) {
			t.Errorf("Append with type %q: %v, want ErrInvalidEventType (an ErrInvalidEvent)", typ, err)
		}
	}
	for _, typ := range []string{"A", "a.b:c-d_e", strings.Repeat("A", MaxEventTypeLen)} {
		if err := ValidateEventType(typ); err != nil {
			t.Errorf("ValidateEventType(%q): %v", typ, err)
		}
	}
	if _, err := s.Append(ctx, "a", Any, []Proposed{ev("T", `{}`), {Type: "T", Data: make([]byte, 101)}}); !errors.Is(err, ErrEventTooLarge) ||
		!strings.Contains(err.Error(), "100") || !strings.Contains(err.Error(), "events[1]") {
		t.Errorf("an over-size event: %v, want ErrEventTooLarge naming the limit and the event", err)
	}
	if _, err := s.Append(ctx, "a", Any, make([]Proposed, MaxAppendEvents+1)); !errors.Is(err, ErrInvalidEvent) || !strings.Contains(err.Error(), "10000") {
		t.Errorf("too many events: %v", err)
	}
	if _, err := s.Append(ctx, "a", Any, []Proposed{{ID: "\xff", Type: "T"}}); !errors.Is(err, ErrInvalidEvent) {
		t.Errorf("an id that is not UTF-8: %v", err)
	}
	// Subsystems write system streams through the same Append.
	if _, err := s.Append(ctx, "$commands", Any, []Proposed{ev("CommandAccepted", `{}`)}); err != nil {
		t.Errorf("appending to a system stream: %v", err)
	}
	if s.Head() != 1 {
		t.Fatalf("head %d: refused appends wrote something", s.Head())
	}
	for _, p := range []string{"", "$", "$com", "user-", "a.b"} {
		if !ValidStreamPrefix(p) {
			t.Errorf("ValidStreamPrefix(%q) = false", p)
		}
	}
	for _, p := range []string{"a b", "a$", "a/b", strings.Repeat("a", MaxStreamIDLen+1)} {
		if ValidStreamPrefix(p) {
			t.Errorf("ValidStreamPrefix(%q) = true", p)
		}
	}
}

// An error from the callback of ReadStreamFunc ends the read and is
// returned (it once was lost).
func TestReadFuncErrors(t *testing.T) {
	s := openT(t, t.TempDir(), Options{Fsync: FsyncNever})
	defer s.Close()
	mustAppend(t, s, "a", Any, ev("T", `{}`), ev("T", `{}`), ev("T", `{}`))
	stop := errors.New("stop")
	n := 0
	if _, _, err := s.ReadStreamFunc("a", 0, Forward, 10, func(*Event) error { n++; return stop }); err != stop || n != 1 {
		t.Fatalf("ReadStreamFunc: err %v after %d events, want stop after 1", err, n)
	}
	n = 0
	if _, _, err := s.ReadAllFunc(0, Forward, 10, Filter{}, func(*Event) error { n++; return stop }); err != stop || n != 1 {
		t.Fatalf("ReadAllFunc: err %v after %d events, want stop after 1", err, n)
	}
}
