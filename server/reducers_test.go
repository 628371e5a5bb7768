package server

import (
	"strings"
	"testing"

	"github.com/eventd/eventd/engine/reducer"
)

func newReducerEnv(t *testing.T) *testEnv {
	t.Helper()
	e := newEnv(t, Config{})
	reg, err := reducer.Open(e.store)
	if err != nil {
		t.Fatal(err)
	}
	e.srv.reducers = reg
	return e
}

func (e *testEnv) put(path string, body any, hdr ...string) *reply {
	e.t.Helper()
	return e.do("PUT", path, body, hdr...)
}

func TestReducersAPI(t *testing.T) {
	e := newReducerEnv(t)
	def := M{"category": "acct", "handlers": M{
		"Deposited": M{"op": "increment", "path": "balance", "from": "eventData.amount"},
		"Noted":     []any{M{"op": "append", "path": "notes", "from": "eventData.note"}, M{"op": "set", "path": "last", "from": "version"}},
	}}
	r := e.put("/api/reducers/acct-r", def).ok(t, 201)
	rev := r["revision"]
	if r["name"] != "acct-r" || r["category"] != "acct" || rev == nil || rev == "" {
		t.Fatalf("put answer %v", r)
	}
	if r := e.put("/api/reducers/acct-r", def).ok(t, 200); r["revision"] != rev {
		t.Fatalf("an unchanged put changed the revision: %v", r)
	}
	e.add("acct-1", "Deposited", M{"amount": 5})
	e.add("acct-1", "Deposited", M{"amount": 7})
	e.add("acct-1", "Noted", M{"note": "x"})
	if st := obj(t, e.post("/api/events/acct-1/replay", M{}).ok(t, 200)["finalState"]); num(t, st["balance"]) != 12 || num(t, st["last"]) != 3 {
		t.Fatalf("replay with the category's reducer: %v", st)
	}
	// A changed definition gets a new revision.
	r = e.put("/api/reducers/acct-r", M{"category": "acct", "handlers": M{"Deposited": M{"op": "set", "path": "lastDeposit", "from": "eventData.amount"}}}).ok(t, 200)
	if r["revision"] == rev {
		t.Fatal("a changed definition kept its revision")
	}
	if st := obj(t, e.post("/api/events/acct-1/replay", M{}).ok(t, 200)["finalState"]); num(t, st["lastDeposit"]) != 7 || len(st) != 1 {
		t.Fatalf("replay after the change: %v", st)
	}
	// A reducer without a category is used by name only; its category answers null.
	r = e.put("/api/reducers/plain", M{"handlers": M{"Deposited": M{"op": "increment", "path": "n"}}}).ok(t, 201)
	if v, ok := r["category"]; !ok || v != nil {
		t.Fatalf("no category: %v", r)
	}
	if st := obj(t, e.post("/api/events/acct-1/replay", M{"reducer": "plain"}).ok(t, 200)["finalState"]); num(t, st["n"]) != 2 {
		t.Fatalf("replay by name: %v", st)
	}
	// A state the reducer cannot fold: 400 naming the version.
	e.put("/api/reducers/broken", M{"handlers": M{"Noted": M{"op": "increment", "path": "n", "from": "eventData.note"}}}).ok(t, 201)
	if r := e.post("/api/events/acct-1/replay", M{"reducer": "broken"}); r.status != 400 || !strings.Contains(string(r.body), "version 3") {
		t.Fatalf("an op on a wrong type: %d %s", r.status, r.body)
	}

	list := e.get("/api/reducers").ok(t, 200)["reducers"].([]any)
	names := []string{}
	for _, x := range list {
		names = append(names, obj(t, x)["name"].(string))
	}
	if len(names) != 4 || names[0] != "acct-r" || names[2] != "default" {
		t.Fatalf("list %v", names)
	}
	one := e.get("/api/reducers/acct-r").ok(t, 200)
	if h := obj(t, one["handlers"]); h["Deposited"] == nil || one["builtIn"] != false {
		t.Fatalf("get one %v", one)
	}
	if d := e.get("/api/reducers/default").ok(t, 200); d["builtIn"] != true {
		t.Fatalf("default %v", d)
	}
	e.get("/api/reducers/nope").fail(t, 404, codeNotFound)
}

func TestReducersBadInput(t *testing.T) {
	e := newReducerEnv(t)
	e.put("/api/reducers/taken", M{"category": "acct", "handlers": M{"A": M{"op": "merge"}}}).ok(t, 201)
	head := e.store.Head()
	for name, c := range map[string]struct {
		path string
		body any
		code int
	}{
		"Default":         {"/api/reducers/default", M{"handlers": M{"A": M{"op": "merge"}}}, 400},
		"BadName":         {"/api/reducers/-x", M{"handlers": M{"A": M{"op": "merge"}}}, 400},
		"NoHandlers":      {"/api/reducers/r", M{}, 400},
		"EmptyHandlers":   {"/api/reducers/r", M{"handlers": M{}}, 400},
		"UnknownField":    {"/api/reducers/r", M{"handlers": M{"A": M{"op": "merge"}}, "categry": "x"}, 400},
		"UnknownOpField":  {"/api/reducers/r", M{"handlers": M{"A": M{"op": "merge", "pth": "x"}}}, 400},
		"UnknownOp":       {"/api/reducers/r", M{"handlers": M{"A": M{"op": "explode"}}}, 400},
		"OpNotObject":     {"/api/reducers/r", M{"handlers": M{"A": "merge"}}, 400},
		"BadType":         {"/api/reducers/r", M{"handlers": M{"1A": M{"op": "merge"}}}, 400},
		"BadFrom":         {"/api/reducers/r", M{"handlers": M{"A": M{"op": "set", "path": "x", "from": "nowhere"}}}, 400},
		"ByString":        {"/api/reducers/r", M{"handlers": M{"A": M{"op": "increment", "path": "x", "by": "1"}}}, 400},
		"EmptyCategory":   {"/api/reducers/r", M{"category": "", "handlers": M{"A": M{"op": "merge"}}}, 400},
		"BadCategory":     {"/api/reducers/r", M{"category": "a-b", "handlers": M{"A": M{"op": "merge"}}}, 400},
		"CategoryTaken":   {"/api/reducers/other", M{"category": "acct", "handlers": M{"A": M{"op": "merge"}}}, 409},
		"NotJSON":         {"/api/reducers/r", `{"handlers":`, 400},
		"HandlersIsArray": {"/api/reducers/r", M{"handlers": []any{}}, 400},
	} {
		r := e.put(c.path, c.body)
		if r.status != c.code || r.v["success"] != false {
			t.Errorf("%s: %d %s, want %d", name, r.status, r.body, c.code)
		}
	}
	if e.store.Head() != head {
		t.Fatalf("refused registrations wrote %d events", e.store.Head()-head)
	}
}
