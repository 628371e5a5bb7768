package engine

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/eventd/eventd/segment/vfs"
)

var ctx = context.Background()

func openT(t testing.TB, dir string, o Options) *Store {
	t.Helper()
	s, err := Open(dir, o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func ev(typ string, data string) Proposed {
	return Proposed{Type: typ, Data: []byte(data)}
}

func evID(id, typ string) Proposed {
	return Proposed{ID: id, Type: typ, Data: []byte(`{"id":"` + id + `"}`)}
}

func mustAppend(t testing.TB, s *Store, stream string, exp ExpectedVersion, evs ...Proposed) AppendResult {
	t.Helper()
	res, err := s.Append(ctx, stream, exp, evs)
	if err != nil {
		t.Fatalf("Append(%s, %d): %v", stream, exp, err)
	}
	return res
}

func TestAppendAndRead(t *testing.T) {
	s := openT(t, t.TempDir(), Options{})
	defer s.Close()
	r1 := mustAppend(t, s, "user-1", NoStream, ev("UserCreated", `{"name":"a"}`))
	if r1.FirstVersion != 1 || r1.FirstPosition != 1 || r1.LastPosition != 1 || r1.Duplicate {
		t.Fatalf("first append: %+v", r1)
	}
	r2 := mustAppend(t, s, "user-2", Any, ev("UserCreated", `{}`), ev("UserUpdated", `{"x":1}`))
	if r2.FirstVersion != 1 || r2.LastVersion != 2 || r2.FirstPosition != 2 || r2.LastPosition != 3 {
		t.Fatalf("second append: %+v", r2)
	}
	mustAppend(t, s, "user-1", 1, ev("UserUpdated", `{"name":"b"}`))
	if h := s.Head(); h != 4 {
		t.Fatalf("head %d, want 4", h)
	}
	page, err := s.ReadStream("user-1", 0, Forward, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Events) != 2 || page.Events[0].Version != 1 || page.Events[1].Version != 2 ||
		page.Events[1].Position != 4 || string(page.Events[1].Data) != `{"name":"b"}` || page.Next != 0 {
		t.Fatalf("ReadStream: %+v", page)
	}
	if page.Events[0].ID == "" || page.Events[0].Timestamp.IsZero() || page.Events[0].SchemaVersion != 1 {
		t.Fatalf("event fields not filled: %+v", page.Events[0])
	}
	back, _ := s.ReadStream("user-1", 0, Backward, 1)
	if len(back.Events) != 1 || back.Events[0].Version != 2 || back.Next != 2 {
		t.Fatalf("backward: %+v", back)
	}
	back2, _ := s.ReadStream("user-1", back.Next, Backward, 1)
	if len(back2.Events) != 1 || back2.Events[0].Version != 1 || back2.Next != 0 {
		t.Fatalf("backward page 2: %+v", back2)
	}
	all, _ := s.ReadAll(0, Forward, 10, Filter{})
	for i, e := range all.Events {
		if e.Position != uint64(i+1) {
			t.Fatalf("$all[%d] at position %d", i, e.Position)
		}
	}
	if len(all.Events) != 4 || all.Head != 4 || all.Next != 0 {
		t.Fatalf("ReadAll: %d events, head %d, next %d", len(all.Events), all.Head, all.Next)
	}
	typed, _ := s.ReadAll(0, Forward, 10, Filter{EventTypes: []string{"UserUpdated"}})
	if len(typed.Events) != 2 || typed.Events[0].Position != 3 || typed.Events[1].Position != 4 {
		t.Fatalf("type filter: %+v", typed.Events)
	}
	pre, _ := s.ReadAll(0, Backward, 10, Filter{StreamPrefix: "user-2"})
	if len(pre.Events) != 2 || pre.Events[0].Position != 3 || pre.Events[1].Position != 2 {
		t.Fatalf("prefix filter backward: %+v", pre.Events)
	}
	paged, _ := s.ReadAll(1, Forward, 2, Filter{})
	if len(paged.Events) != 2 || paged.Events[0].Position != 2 || paged.Next != 3 {
		t.Fatalf("paged $all: next %d events %d", paged.Next, len(paged.Events))
	}
	if info, ok := s.Stream("user-1"); !ok || info.Version != 2 || info.CreatedAt.After(info.UpdatedAt) {
		t.Fatalf("Stream: %+v %v", info, ok)
	}
	if _, ok := s.Stream("nope"); ok {
		t.Fatal("Stream(nope) exists")
	}
	list, more := s.ListStreams("user-", "", 1)
	if len(list) != 1 || list[0].ID != "user-1" || !more {
		t.Fatalf("ListStreams: %+v %v", list, more)
	}
	list, more = s.ListStreams("user-", "user-1", 10)
	if len(list) != 1 || list[0].ID != "user-2" || more {
		t.Fatalf("ListStreams after: %+v %v", list, more)
	}
}

func TestExpectedVersion(t *testing.T) {
	s := openT(t, t.TempDir(), Options{Fsync: FsyncNever})
	defer s.Close()
	cases := []struct {
		name    string
		stream  string
		exp     ExpectedVersion
		wantErr bool
	}{
		{"no_stream on new", "a", NoStream, false},
		{"no_stream on existing", "a", NoStream, true},
		{"zero on existing", "a", 0, true},
		{"exists on existing", "a", StreamExists, false},
		{"exists on new", "b", StreamExists, true},
		{"exact right", "a", 2, false},
		{"exact wrong", "a", 2, true},
		{"exact on new", "c", 1, true},
		{"any", "a", Any, false},
		{"zero on new", "d", 0, false},
	}
	for _, c := range cases {
		_, err := s.Append(ctx, c.stream, c.exp, []Proposed{ev("T", `{}`)})
		var wev *WrongExpectedVersionError
		if c.wantErr != errors.As(err, &wev) || (!c.wantErr && err != nil) {
			t.Fatalf("%s: err = %v", c.name, err)
		}
		if c.wantErr && wev.Current != s.ix.Version(c.stream) {
			t.Fatalf("%s: current %d in error, stream at %d", c.name, wev.Current, s.ix.Version(c.stream))
		}
	}
	if _, err := s.Append(ctx, "e", -3, []Proposed{ev("T", `{}`)}); !errors.Is(err, ErrInvalidEvent) {
		t.Fatalf("expected -3: %v", err)
	}
	if h := s.Head(); h != 5 {
		t.Fatalf("head %d after the table, want 5 (failed appends write nothing)", h)
	}
}

func TestValidation(t *testing.T) {
	s := openT(t, t.TempDir(), Options{Fsync: FsyncNever, MaxEventSize: 100})
	defer s.Close()
	bad := []struct {
		stream string
		evs    []Proposed
		want   error
	}{
		{"", []Proposed{ev("T", `{}`)}, ErrInvalidStreamID},
		{"a b", []Proposed{ev("T", `{}`)}, ErrInvalidStreamID},
		{"-a", []Proposed{ev("T", `{}`)}, ErrInvalidStreamID},
		{string(make([]byte, 201)), []Proposed{ev("T", `{}`)}, ErrInvalidStreamID},
		{"a", nil, ErrInvalidEvent},
		{"a", []Proposed{ev("", `{}`)}, ErrInvalidEvent},
		{"a", []Proposed{{Type: "T", Data: make([]byte, 101)}}, ErrInvalidEvent},
		{"a", []Proposed{{ID: string(make([]byte, 129)), Type: "T"}}, ErrInvalidEvent},
	}
	for i, c := range bad {
		if _, err := s.Append(ctx, c.stream, Any, c.evs); !errors.Is(err, c.want) {
			t.Fatalf("case %d: err %v, want %v", i, err, c.want)
		}
	}
	if s.Head() != 0 {
		t.Fatal("invalid appends wrote events")
	}
}

func TestIdempotency(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, Options{Fsync: FsyncNever})
	first := mustAppend(t, s, "s", NoStream, evID("a", "T"), evID("b", "T"))
	again := mustAppend(t, s, "s", NoStream, evID("a", "T"), evID("b", "T"))
	if !again.Duplicate || again.FirstPosition != first.FirstPosition || again.LastVersion != 2 || len(again.Events) != 2 || again.Events[1].ID != "b" {
		t.Fatalf("retry: %+v", again)
	}
	if _, err := s.Append(ctx, "s", Any, []Proposed{evID("b", "T"), evID("c", "T")}); !errors.Is(err, ErrDuplicateEvent) {
		t.Fatalf("partial duplicate: %v", err)
	}
	if _, err := s.Append(ctx, "s", Any, []Proposed{evID("a", "T")}); !errors.Is(err, ErrDuplicateEvent) {
		t.Fatalf("subset of an earlier append: %v", err)
	}
	other := mustAppend(t, s, "other", Any, evID("a", "T"))
	if other.Duplicate {
		t.Fatal("the same id in another stream is a different event")
	}
	if s.Head() != 3 {
		t.Fatalf("head %d, want 3", s.Head())
	}
	// The window survives a restart (from the checkpoint) …
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openT(t, dir, Options{Fsync: FsyncNever})
	if r := mustAppend(t, s, "s", 5, evID("a", "T"), evID("b", "T")); !r.Duplicate || r.FirstPosition != 1 {
		t.Fatalf("after restart: %+v", r)
	}
	// … and a crash (no checkpoint: rebuilt from the log).
	mustAppend(t, s, "s", Any, evID("z", "T"))
	s.Close()
	if err := s.fs.Remove(s.checkpointPath()); err != nil {
		t.Fatal(err)
	}
	s = openT(t, dir, Options{Fsync: FsyncNever})
	defer s.Close()
	if r := mustAppend(t, s, "s", Any, evID("z", "T")); !r.Duplicate || r.FirstPosition != 4 {
		t.Fatalf("after losing the checkpoint: %+v", r)
	}
	// Ids outside the window are forgotten.
	s2 := openT(t, t.TempDir(), Options{Fsync: FsyncNever, DedupeWindow: time.Millisecond})
	defer s2.Close()
	mustAppend(t, s2, "s", Any, evID("a", "T"))
	time.Sleep(5 * time.Millisecond)
	if r := mustAppend(t, s2, "s", Any, evID("a", "T")); r.Duplicate {
		t.Fatal("id remembered past the window")
	}
}

func TestDuplicateWithinOneBatch(t *testing.T) {
	s := openT(t, t.TempDir(), Options{Fsync: FsyncNever})
	defer s.Close()
	var wg sync.WaitGroup
	res := make([]AppendResult, 16)
	errs := make([]error, 16)
	for i := range res {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i], errs[i] = s.Append(ctx, "s", Any, []Proposed{evID("x", "T"), evID("y", "T")})
		}()
	}
	wg.Wait()
	orig := 0
	for i := range res {
		if errs[i] != nil {
			t.Fatalf("append %d: %v", i, errs[i])
		}
		if !res[i].Duplicate {
			orig++
		}
		if res[i].FirstPosition != 1 || res[i].LastVersion != 2 {
			t.Fatalf("append %d: %+v", i, res[i])
		}
	}
	if orig != 1 || s.Head() != 2 {
		t.Fatalf("%d originals, head %d: want 1 and 2", orig, s.Head())
	}
}

func TestConcurrentExpectedVersionOneWins(t *testing.T) {
	s := openT(t, t.TempDir(), Options{})
	defer s.Close()
	mustAppend(t, s, "acct-1", NoStream, ev("Opened", `{}`))
	for round := 0; round < 5; round++ {
		exp := ExpectedVersion(round + 1)
		var wg sync.WaitGroup
		var mu sync.Mutex
		wins, conflicts := 0, 0
		start := make(chan struct{})
		for i := 0; i < 32; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, err := s.Append(ctx, "acct-1", exp, []Proposed{ev("Deposited", `{"i":`+strconv.Itoa(i)+`}`)})
				mu.Lock()
				defer mu.Unlock()
				var wev *WrongExpectedVersionError
				switch {
				case err == nil:
					wins++
				case errors.As(err, &wev):
					conflicts++
				default:
					t.Errorf("append: %v", err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if wins != 1 || conflicts != 31 {
			t.Fatalf("round %d: %d wins, %d conflicts; want 1 and 31", round, wins, conflicts)
		}
	}
	if v := s.ix.Version("acct-1"); v != 6 {
		t.Fatalf("version %d, want 6", v)
	}
}

func TestRestartKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	o := Options{SegmentSize: 64 << 10, Fsync: FsyncNever}
	s := openT(t, dir, o)
	for i := 0; i < 2000; i++ {
		mustAppend(t, s, fmt.Sprintf("s-%d", i%7), Any, ev("T", fmt.Sprintf(`{"i":%d,"pad":"%0100d"}`, i, i)))
	}
	if s.Stats().Segments < 3 {
		t.Fatalf("want several segments, got %d", s.Stats().Segments)
	}
	s.Close()
	check := func(head int) {
		t.Helper()
		s = openT(t, dir, o)
		defer s.Close()
		if s.Head() != uint64(head) {
			t.Fatalf("head %d after restart, want %d", s.Head(), head)
		}
		all, err := s.ReadAll(0, Forward, 5000, Filter{})
		if err != nil || len(all.Events) != head {
			t.Fatalf("ReadAll after restart: %d events, %v", len(all.Events), err)
		}
		for i, e := range all.Events[:2000] {
			if want := fmt.Sprintf(`{"i":%d,"pad":"%0100d"}`, i, i); string(e.Data) != want || e.StreamID != fmt.Sprintf("s-%d", i%7) || e.Version != uint64(i/7+1) {
				t.Fatalf("event %d: %s %s v%d", i, e.StreamID, e.Data, e.Version)
			}
		}
		mustAppend(t, s, "s-0", ExpectedVersion(286+head-2000), ev("T", `{}`))
	}
	check(2000) // from the checkpoint
	check(2001) // from the checkpoint written at that Close
	if err := vfs.OS().Remove(s.checkpointPath()); err != nil {
		t.Fatal(err)
	}
	check(2002) // from a full scan
}

func TestLockedDir(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, dir, Options{})
	defer s.Close()
	if _, err := Open(dir, Options{}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
}

func TestCloseRefusesAppends(t *testing.T) {
	s := openT(t, t.TempDir(), Options{})
	mustAppend(t, s, "a", Any, ev("T", `{}`))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, "a", Any, []Proposed{ev("T", `{}`)}); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}
	if err := s.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second close: %v", err)
	}
}
