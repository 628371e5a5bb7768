package snapshot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/eventd/eventd/engine"
	"github.com/eventd/eventd/engine/derived"
	"github.com/eventd/eventd/engine/reducer"
	"github.com/eventd/eventd/engine/schema"
)

func TestMain(m *testing.M) {
	if os.Getenv("SNAPDEBUG") == "" {
		slog.SetDefault(slog.New(slog.DiscardHandler))
	}
	os.Exit(m.Run())
}

var ctx = context.Background()

type env struct {
	t     testing.TB
	dir   string
	store *engine.Store
	db    *derived.DB
	reds  *reducer.Registry
	revs  *schema.Registry
	snaps *Store
}

func openEnv(t testing.TB, dir string, opts Options) *env {
	t.Helper()
	s, err := engine.Open(dir+"/store", engine.Options{Fsync: engine.FsyncNever})
	if err != nil {
		t.Fatal(err)
	}
	db, err := derived.Open(dir+"/db", nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	revs, err := schema.Open(s)
	if err != nil {
		t.Fatal(err)
	}
	s.SetUpcaster(revs)
	reds, err := reducer.Open(s)
	if err != nil {
		t.Fatal(err)
	}
	if opts.Every == 0 {
		opts.Every = -1 // tests ask for automatic snapshots explicitly
	}
	if opts.After == 0 {
		opts.After = -1
	}
	snaps, err := Open(db, s, reds, revs, opts)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, dir: dir, store: s, db: db, reds: reds, revs: revs, snaps: snaps}
	t.Cleanup(e.close)
	return e
}

func (e *env) close() {
	if e.snaps != nil {
		_ = e.snaps.Close()
		_ = e.db.Close()
		_ = e.store.Close()
		e.snaps = nil
	}
}

func (e *env) add(stream, typ, data string) engine.AppendResult {
	e.t.Helper()
	r, err := e.store.Append(ctx, stream, engine.Any, []engine.Proposed{{Type: typ, Data: []byte(data)}})
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func (e *env) fromZero(stream string, to uint64) reducer.State {
	e.t.Helper()
	r, err := e.snaps.Replay(ctx, stream, to, e.reds.ForStream(stream), false, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return r.State
}

func jsonOf(v any) string { b, _ := json.Marshal(v); return string(b) }

// Replaying from a snapshot gives exactly what replaying from version 0
// gives: random streams, random reducers, random snapshot points, server
// and client snapshots, random target versions.
func TestReplayFromSnapshotEqualsFromZero(t *testing.T) {
	for seed := uint64(1); seed <= 6; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 99))
			e := openEnv(t, t.TempDir(), Options{Retain: 1 + rng.IntN(4)})
			if seed%2 == 0 {
				_, _, _, err := e.reds.Put(ctx, reducer.Definition{Name: "acct-r", Category: "acct", Handlers: map[string][]reducer.Op{
					"Deposited": {{Op: "increment", Path: "balance", From: "eventData.amount"}, {Op: "append", Path: "log", From: "version"}},
					"Renamed":   {{Op: "set", Path: "owner", From: "eventData.owner"}},
					"Patched":   {{Op: "merge", Path: "profile"}},
					"Closed":    {{Op: "delete"}},
				}})
				if err != nil {
					t.Fatal(err)
				}
			}
			types := []string{"Deposited", "Renamed", "Patched", "AccountCreated", "AccountUpdated", "Closed"}
			streams := []string{"acct-1", "acct-2", "user-1"}
			for i := 0; i < 300; i++ {
				s := streams[rng.IntN(len(streams))]
				typ := types[rng.IntN(len(types))]
				data := fmt.Sprintf(`{"amount":%d,"owner":"o%d","updates":{"k%d":%d},"k%d":%d}`, rng.IntN(50), rng.IntN(5), rng.IntN(4), i, rng.IntN(6), i)
				if typ == "Patched" {
					data = fmt.Sprintf(`{"nick":"n%d","age":%d,"gone":null}`, rng.IntN(3), rng.IntN(90))
				}
				e.add(s, typ, data)
				if rng.IntN(12) == 0 {
					info, _ := e.store.Stream(s)
					v := 1 + rng.Uint64N(info.Version)
					if rng.IntN(4) == 0 {
						// A client snapshot holding the true state at v is as good as a server one.
						if _, err := e.snaps.Put(ctx, s, v, e.fromZero(s, v)); err != nil {
							t.Fatal(err)
						}
					} else if _, err := e.snaps.Take(ctx, s, v); err != nil {
						t.Fatal(err)
					}
				}
			}
			used := 0
			for _, s := range streams {
				info, _ := e.store.Stream(s)
				for k := 0; k < 25; k++ {
					to := 1 + rng.Uint64N(info.Version)
					r, err := e.snaps.Replay(ctx, s, to, e.reds.ForStream(s), true, nil)
					if err != nil {
						t.Fatal(err)
					}
					if r.SnapshotVersion > to || r.SnapshotVersion+r.Applied != to {
						t.Fatalf("%s to %d: snapshot %d + %d applied", s, to, r.SnapshotVersion, r.Applied)
					}
					if r.SnapshotVersion > 0 {
						used++
					}
					if got, want := jsonOf(r.State), jsonOf(e.fromZero(s, to)); got != want {
						t.Fatalf("%s to %d from snapshot %d:\n got %s\nwant %s", s, to, r.SnapshotVersion, got, want)
					}
				}
			}
			if used == 0 {
				t.Fatal("no replay started from a snapshot: the property was not exercised")
			}
		})
	}
}

// A snapshot made under another reducer revision or chain revision is
// never used; one whose folded types kept their chains is.
func TestStaleSnapshotsAreNeverUsed(t *testing.T) {
	e := openEnv(t, t.TempDir(), Options{})
	for i := 0; i < 5; i++ {
		e.add("acct-1", "Deposited", fmt.Sprintf(`{"amount":%d}`, i))
	}
	def := reducer.Definition{Name: "acct-r", Category: "acct", Handlers: map[string][]reducer.Op{"Deposited": {{Op: "increment", Path: "n", From: "eventData.amount"}}}}
	if _, _, _, err := e.reds.Put(ctx, def); err != nil {
		t.Fatal(err)
	}
	if _, err := e.snaps.Take(ctx, "acct-1", 4); err != nil {
		t.Fatal(err)
	}
	replay := func() Result {
		r, err := e.snaps.Replay(ctx, "acct-1", 5, e.reds.ForStream("acct-1"), true, nil)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := replay(); r.SnapshotVersion != 4 || r.Applied != 1 {
		t.Fatalf("fresh snapshot not used: %+v", r)
	}
	// A chain for another type changes nothing.
	if _, _, _, err := e.revs.Put(ctx, schema.Definition{EventType: "Other", CurrentVersion: 1}); err != nil {
		t.Fatal(err)
	}
	if r := replay(); r.SnapshotVersion != 4 {
		t.Fatalf("a chain of an unrelated type retired the snapshot: %+v", r)
	}
	// A chain for a folded type retires it; the result is still right (upcast from zero).
	if _, _, _, err := e.revs.Put(ctx, schema.Definition{EventType: "Deposited", CurrentVersion: 2, Upcasters: []schema.Step{{From: 1, To: 2, Ops: []schema.Op{
		{Op: "set", Path: "amount", Value: json.RawMessage(`100`)}}}}}); err != nil {
		t.Fatal(err)
	}
	if r := replay(); r.SnapshotVersion != 0 || r.State["n"] != json.Number("500") {
		t.Fatalf("after a chain change: %+v", r)
	}
	if _, err := e.snaps.Take(ctx, "acct-1", 4); err != nil {
		t.Fatal(err)
	}
	if r := replay(); r.SnapshotVersion != 4 || r.State["n"] != json.Number("500") {
		t.Fatalf("a snapshot under the new chain: %+v", r)
	}
	// A changed reducer retires it too.
	def.Handlers["Deposited"] = []reducer.Op{{Op: "set", Path: "last", From: "eventData.amount"}}
	if _, _, _, err := e.reds.Put(ctx, def); err != nil {
		t.Fatal(err)
	}
	if r := replay(); r.SnapshotVersion != 0 || r.State["last"] != json.Number("100") {
		t.Fatalf("after a reducer change: %+v", r)
	}
}

func TestRetentionDamageAndRestart(t *testing.T) {
	dir := t.TempDir()
	e := openEnv(t, dir, Options{Retain: 2})
	for i := 0; i < 6; i++ {
		e.add("user-1", "UserUpdated", fmt.Sprintf(`{"updates":{"n":%d}}`, i))
	}
	for _, v := range []uint64{2, 5, 3} {
		if _, err := e.snaps.Take(ctx, "user-1", v); err != nil {
			t.Fatal(err)
		}
	}
	list, _ := e.snaps.List("user-1")
	if len(list) != 2 || list[0].Version != 5 || list[1].Version != 3 {
		t.Fatalf("retain 2 keeps the last two taken (5 and 3), newest version first: %+v", list)
	}
	if _, err := e.snaps.Put(ctx, "user-1", 9, reducer.State{}); !errors.Is(err, ErrNoVersion) {
		t.Fatalf("a client snapshot at a missing version: %v", err)
	}
	if _, err := e.snaps.Take(ctx, "nobody", 0); !errors.Is(err, ErrUnknownStream) {
		t.Fatalf("an unknown stream: %v", err)
	}
	// Damage the newest: it is skipped (with a warning), the older one is used.
	key := snapKey("user-1", 5, list[0].CreatedAt)
	v, closer, err := e.db.Get(key)
	if err != nil {
		t.Fatal(err)
	}
	bad := append([]byte(nil), v...)
	closer.Close()
	bad[len(bad)/2] ^= 0xff
	if err := e.db.Set(key, bad, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	r, err := e.snaps.Replay(ctx, "user-1", 6, reducer.Default, true, nil)
	if err != nil || r.SnapshotVersion != 3 || jsonOf(r.State) != jsonOf(e.fromZero("user-1", 6)) {
		t.Fatalf("with the newest damaged: %+v %v", r, err)
	}
	if m, _, ok, _ := e.snaps.Latest("user-1"); !ok || m.Version != 3 {
		t.Fatalf("latest skips the damaged one: %+v", m)
	}
	// Snapshots survive a restart.
	e.close()
	e = openEnv(t, dir, Options{Retain: 2})
	if r, err := e.snaps.Replay(ctx, "user-1", 6, reducer.Default, true, nil); err != nil || r.SnapshotVersion != 3 {
		t.Fatalf("after a restart: %+v %v", r, err)
	}
}

func TestAutomaticSnapshots(t *testing.T) {
	e := openEnv(t, t.TempDir(), Options{Every: 10, After: time.Nanosecond})
	for i := 0; i < 25; i++ {
		e.add("order-1", "ItemAdded", fmt.Sprintf(`{"i":%d}`, i))
	}
	e.add("$sys", "Internal", `{}`)
	// Asks for one stream coalesce while queued: the highest version is taken.
	waitFor(t, func() bool {
		list, _ := e.snaps.List("order-1")
		return len(list) > 0 && list[0].Version == 20 && list[len(list)-1].Version%10 == 0
	})
	// A slow replay (here: any, After is 1ns) asks for a snapshot at its end.
	if _, err := e.snaps.Replay(ctx, "order-1", 25, reducer.Default, true, nil); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		list, _ := e.snaps.List("order-1")
		return len(list) > 0 && list[0].Version == 25
	})
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A snapshot whose event is no longer in the log at its version (a log
// that lost an unsynced tail, then took other events at the same versions
// and positions) is never used (found by a review).
func TestSnapshotOfALostTailIsNotUsed(t *testing.T) {
	dir := t.TempDir()
	e := openEnv(t, dir, Options{})
	for i := 0; i < 5; i++ {
		e.add("acct-1", "Noted", fmt.Sprintf(`{"a%d":true}`, i))
	}
	if _, err := e.snaps.Take(ctx, "acct-1", 5); err != nil {
		t.Fatal(err)
	}
	e.close()
	// The same derived-data store over a log where versions 4 and 5 (at
	// the same positions) are other events.
	if err := os.RemoveAll(dir + "/store"); err != nil {
		t.Fatal(err)
	}
	e = openEnv(t, dir, Options{})
	for i := 0; i < 5; i++ {
		data := fmt.Sprintf(`{"a%d":true}`, i)
		if i >= 3 {
			data = fmt.Sprintf(`{"other%d":true}`, i)
		}
		e.add("acct-1", "Noted", data)
	}
	r, err := e.snaps.Replay(ctx, "acct-1", 5, reducer.Default, true, nil)
	if err != nil || r.SnapshotVersion != 0 || r.State["other4"] != true || r.State["a4"] != nil {
		t.Fatalf("replay used a snapshot of a lost tail: %+v %v", r, err)
	}
}

// movingRevs changes its generation on every look: a schema registration
// during every fold.
type movingRevs struct{ n uint64 }

func (m *movingRevs) Revision(string) string { return "" }
func (m *movingRevs) Generation() uint64     { m.n++; return m.n }

// A snapshot folded while the schemas changed is not stored (it may mix
// two chains).
func TestSnapshotNotTakenWhileSchemasChange(t *testing.T) {
	e := openEnv(t, t.TempDir(), Options{})
	e.add("acct-1", "Noted", `{}`)
	e.snaps.revs = &movingRevs{}
	if _, err := e.snaps.Take(ctx, "acct-1", 1); !errors.Is(err, ErrSchemasMoving) {
		t.Fatalf("Take while schemas change: %v", err)
	}
	if _, err := e.snaps.Put(ctx, "acct-1", 1, reducer.State{}); !errors.Is(err, ErrSchemasMoving) {
		t.Fatalf("Put while schemas change: %v", err)
	}
	if list, _ := e.snaps.List("acct-1"); len(list) != 0 {
		t.Fatalf("stored %d snapshots", len(list))
	}
}
