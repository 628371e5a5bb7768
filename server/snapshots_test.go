package server

import (
	"testing"

	"github.com/eventd/eventd/engine/derived"
	"github.com/eventd/eventd/engine/reducer"
	"github.com/eventd/eventd/engine/schema"
	"github.com/eventd/eventd/engine/snapshot"
)

func newSnapshotEnv(t *testing.T) *testEnv {
	t.Helper()
	e := newEnv(t, Config{})
	db, err := derived.Open(t.TempDir(), nil, discardLogger())
	if err != nil {
		t.Fatal(err)
	}
	revs := schema.New()
	snaps, err := snapshot.Open(db, e.store, e.srv.reducers, revs, snapshot.Options{Every: -1, After: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = snaps.Close(); _ = db.Close() })
	e.srv.cfg.Snapshots = snaps
	return e
}

func TestSnapshotsAPI(t *testing.T) {
	e := newSnapshotEnv(t)
	for i, typ := range []string{"UserCreated", "UserUpdated", "UserUpdated", "UserUpdated", "UserUpdated", "UserUpdated"} {
		e.add("user-1", typ, M{"updates": M{"step": i + 1}, "name": "Ann"})
	}
	full := e.post("/api/events/user-1/replay", M{"useSnapshot": false}).ok(t, 200)
	s2 := e.post("/api/snapshots", M{"streamId": "user-1", "version": 2}).ok(t, 201)
	s4 := e.post("/api/snapshots", M{"streamId": "user-1", "version": 4}).ok(t, 201)
	if s4["source"] != "server" || s4["reducer"] != reducer.DefaultName || num(t, s4["version"]) != 4 || num(t, s4["sizeBytes"]) == 0 || s4["reducerRevision"] == "" {
		t.Fatalf("snapshot %v", s4)
	}
	r := e.post("/api/events/user-1/replay", M{}).ok(t, 200)
	if num(t, r["snapshotVersion"]) != 4 || num(t, r["eventsApplied"]) != 2 || jsonOf(t, r["finalState"]) != jsonOf(t, full["finalState"]) {
		t.Fatalf("replay from the snapshot: %v", r)
	}
	// events still lists fromVersion < version ≤ toVersion, before and after the snapshot.
	if vs := versions(t, arr(t, r["events"])); len(vs) != 6 || vs[0] != 1 || vs[5] != 6 {
		t.Fatalf("events %v", vs)
	}
	r = e.post("/api/events/user-1/replay", M{"fromVersion": 3, "toVersion": 5}).ok(t, 200)
	if vs := versions(t, arr(t, r["events"])); len(vs) != 2 || vs[0] != 4 || num(t, r["snapshotVersion"]) != 4 {
		t.Fatalf("fromVersion 3 toVersion 5: %v %v", vs, r["snapshotVersion"])
	}
	if r := e.post("/api/events/user-1/replay", M{"toVersion": 3}).ok(t, 200); num(t, r["snapshotVersion"]) != 2 {
		t.Fatalf("toVersion below the newest snapshot: %v", r)
	}
	if r := e.post("/api/events/user-1/replay", M{"useSnapshot": false}).ok(t, 200); r["snapshotVersion"] != nil {
		t.Fatalf("useSnapshot false: %v", r)
	}
	// A client-supplied state is the starting state.
	e.post("/api/snapshots", M{"streamId": "user-1", "version": 5, "data": M{"marker": "client"}}).ok(t, 201)
	r = e.post("/api/events/user-1/replay", M{}).ok(t, 200)
	if st := obj(t, r["finalState"]); st["marker"] != "client" || num(t, st["step"]) != 6 || num(t, r["snapshotVersion"]) != 5 {
		t.Fatalf("from a client snapshot: %v", r)
	}
	list := e.get("/api/snapshots/user-1").ok(t, 200)
	snaps := arr(t, list["snapshots"])
	latest := obj(t, list["latest"])
	if len(snaps) != 3 || num(t, obj(t, snaps[0])["version"]) != 5 || latest["source"] != "client" || obj(t, latest["data"])["marker"] != "client" {
		t.Fatalf("list %v", list)
	}
	_ = s2
	e.add("quiet-1", "Opened", M{})
	if l := e.get("/api/snapshots/quiet-1").ok(t, 200); l["latest"] != nil || len(arr(t, l["snapshots"])) != 0 {
		t.Fatalf("no snapshots: %v", l)
	}
}

func TestSnapshotsBadInput(t *testing.T) {
	e := newSnapshotEnv(t)
	e.add("user-1", "UserCreated", M{"name": "Ann"})
	for name, c := range map[string]struct {
		body   any
		status int
	}{
		"NoStream":         {M{}, 400},
		"UnknownStream":    {M{"streamId": "nobody-1"}, 404},
		"BadStream":        {M{"streamId": "a b"}, 400},
		"VersionTooHigh":   {M{"streamId": "user-1", "version": 9}, 400},
		"VersionZero":      {M{"streamId": "user-1", "version": 0}, 400},
		"VersionString":    {M{"streamId": "user-1", "version": "1"}, 400},
		"DataNotObject":    {M{"streamId": "user-1", "data": []any{1}}, 400},
		"ClientAtMissing":  {M{"streamId": "user-1", "version": 99, "data": M{"x": 1}}, 400},
		"UnknownField":     {M{"streamId": "user-1", "versoin": 1}, 400},
		"NotJSON":          {`{"streamId":`, 400},
		"ClientUnknownStr": {M{"streamId": "nobody-1", "data": M{}}, 404},
	} {
		if r := e.post("/api/snapshots", c.body); r.status != c.status || r.v["success"] != false {
			t.Errorf("%s: %d %s, want %d", name, r.status, r.body, c.status)
		}
	}
	e.get("/api/snapshots/nobody-1").fail(t, 404, codeNotFound)
	e.get("/api/snapshots/a%20b").fail(t, 400, codeInvalidStreamID)
	if l := e.get("/api/snapshots/user-1").ok(t, 200); len(arr(t, l["snapshots"])) != 0 {
		t.Fatalf("refused requests stored snapshots: %v", l)
	}
}
