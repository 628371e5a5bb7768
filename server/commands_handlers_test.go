package server

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestCommandHandlerRoutes(t *testing.T) {
	e := newCmdEnv(t, Config{})
	def := M{"eventType": "Deposited", "streamIdFrom": "commandData.accountId", "expect": "any", "data": "commandData.deposit"}
	h := e.put("/api/command-handlers/Deposit", def).ok(t, 201)
	keys(t, h, "commandType", "eventType", "streamIdFrom", "expect", "data", "builtIn", "fields", "updatedAt")
	if h["commandType"] != "Deposit" || h["eventType"] != "Deposited" || h["builtIn"] != false || h["fields"] != nil || h["updatedAt"] == nil {
		t.Fatalf("stored %v", h)
	}
	head := e.store.Head()
	if again := e.put("/api/command-handlers/Deposit", def).ok(t, 200); !reflect.DeepEqual(again, h) || e.store.Head() != head {
		t.Fatalf("an unchanged PUT: %v, head %d→%d", again, head, e.store.Head())
	}
	def["expect"] = "existing"
	if h2 := e.put("/api/command-handlers/Deposit", def).ok(t, 200); h2["expect"] != "existing" {
		t.Fatalf("replaced %v", h2)
	}
	// data defaults to the whole commandData.
	if n := e.put("/api/command-handlers/Note", M{"eventType": "Noted", "streamIdFrom": "commandData.s", "expect": "any"}).ok(t, 201); n["data"] != "commandData" {
		t.Fatalf("default data %v", n["data"])
	}
	list := arr(t, e.get("/api/command-handlers").ok(t, 200)["handlers"])
	var types []string
	for _, x := range list {
		m := obj(t, x)
		types = append(types, m["commandType"].(string))
		if m["commandType"] == "CreateUser" && (m["builtIn"] != true || len(arr(t, m["fields"])) != 3 || m["updatedAt"] != nil || m["expect"] != "new") {
			t.Fatalf("built-in listed as %v", m)
		}
	}
	if strings.Join(types, ",") != "CreateUser,DeleteUser,Deposit,Note,UpdateUser" {
		t.Fatalf("listed %v", types)
	}
	if one := e.get("/api/command-handlers/Deposit").ok(t, 200); one["expect"] != "existing" {
		t.Fatalf("GET one %v", one)
	}
	// In use, and durable.
	e.post("/api/commands", M{"commandType": "Note", "commandData": M{"s": "n-1", "t": "x"}}).ok(t, 201)
	e.post("/api/commands", M{"commandType": "Deposit", "commandData": M{"accountId": "n-1", "deposit": M{"amount": 5}}}).ok(t, 201)
	if evs := arr(t, e.get("/api/events/n-1").ok(t, 200)["events"]); len(evs) != 2 || !reflect.DeepEqual(obj(t, evs[1])["eventData"], map[string]any{"amount": json.Number("5")}) {
		t.Fatalf("events %v", evs)
	}
	if evs := arr(t, e.get("/api/events/$command-handlers").ok(t, 200)["events"]); len(evs) != 3 {
		t.Fatalf("$command-handlers has %d events", len(evs))
	}
	e2 := e.reopen(Config{})
	if one := e2.get("/api/command-handlers/Deposit").ok(t, 200); one["expect"] != "existing" || one["updatedAt"] == nil {
		t.Fatalf("after a restart %v", one)
	}
}

func TestCommandsUnavailable(t *testing.T) {
	e := newEnv(t, Config{})
	for _, r := range []*reply{
		e.post("/api/commands", createCmd("u1", "")),
		e.get("/api/commands/x/status"),
		e.do("PUT", "/api/command-handlers/X", M{"eventType": "E", "streamIdFrom": "commandData.a", "expect": "any"}),
		e.get("/api/command-handlers"),
		e.get("/api/command-handlers/X"),
	} {
		r.fail(t, 503, codeUnavailable)
	}
}

func TestCommandAuth(t *testing.T) {
	keysFile, err := ParseKeys(strings.NewReader("r-key read\nw-key write\na-key admin\n"))
	if err != nil {
		t.Fatal(err)
	}
	e := newCmdEnv(t, Config{Auth: keysFile})
	bearer := func(k string) []string { return []string{"Authorization", "Bearer " + k} }
	def := M{"eventType": "Noted", "streamIdFrom": "commandData.s", "expect": "any"}
	e.post("/api/commands", createCmd("u1", "c1")).fail(t, 401, codeUnauthorized)
	e.post("/api/commands", createCmd("u1", "c1"), bearer("r-key")...).fail(t, 403, codeForbidden)
	e.post("/api/commands", createCmd("u1", "c1"), bearer("w-key")...).ok(t, 201)
	e.get("/api/commands/c1/status").fail(t, 401, codeUnauthorized)
	e.get("/api/commands/c1/status", bearer("r-key")...).ok(t, 200)
	e.put("/api/command-handlers/Note", def, bearer("w-key")...).fail(t, 403, codeForbidden)
	e.put("/api/command-handlers/Note", def, bearer("a-key")...).ok(t, 201)
	e.get("/api/command-handlers", bearer("r-key")...).ok(t, 200)
	e.get("/api/command-handlers/Note", bearer("r-key")...).ok(t, 200)
}
