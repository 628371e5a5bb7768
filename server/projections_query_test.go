package server

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestQueryRoute(t *testing.T) {
	e, m := newProjectionEnv(t, Config{})
	e.post("/api/projections", M{"projectionId": "users", "name": "u", "kind": "state", "streamPrefix": "user-"}).ok(t, 201)
	e.post("/api/projections", M{"projectionId": "cnt", "name": "c", "kind": "count"}).ok(t, 201)
	var last map[string]any
	for i := range 12 {
		last = e.add(fmt.Sprintf("user-%02d", i), "UserCreated", M{"name": []string{"ann", "bob"}[i%2], "age": i % 3, "vip": i == 4})
	}
	pos := num(t, last["position"])
	q := func(query string) *reply { return e.get("/api/queries/users?" + query) }

	d := q(fmt.Sprintf("key=user-03&minPosition=%d", pos)).ok(t, 200)
	if d["queryId"] != "users" || d["key"] != "user-03" || positionOf(t, d) < uint64(pos) || obj(t, d["value"])["name"] != "bob" {
		t.Fatalf("by key: %v", d)
	}
	q("key=user-99").fail(t, 404, codeNotFound)
	e.get("/api/queries/nope?key=x").fail(t, 404, codeNotFound)
	e.get("/api/queries/nope").fail(t, 404, codeNotFound)
	e.get("/api/queries/nope?minPosition=1").fail(t, 404, codeNotFound)

	d = q("").ok(t, 200)
	if items := arr(t, d["items"]); len(items) != 12 || obj(t, items[0])["key"] != "user-00" || d["nextCursor"] != nil {
		t.Fatalf("list: %v", d)
	}
	var keys []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		query := "where=name:bob&limit=2"
		if cursor != "" {
			query += "&cursor=" + cursor
		}
		d := q(query).ok(t, 200)
		for _, it := range arr(t, d["items"]) {
			keys = append(keys, obj(t, it)["key"].(string))
		}
		c, ok := d["nextCursor"].(string)
		if !ok {
			break
		}
		cursor = c
	}
	if fmt.Sprint(keys) != "[user-01 user-03 user-05 user-07 user-09 user-11]" {
		t.Fatalf("where=name:bob paged: %v", keys)
	}
	if items := arr(t, q("where=name:bob&where=age:0").ok(t, 200)["items"]); len(items) != 2 {
		t.Fatalf("two conditions: %v", items)
	}
	if items := arr(t, q("where=vip:true").ok(t, 200)["items"]); len(items) != 1 || obj(t, items[0])["key"] != "user-04" {
		t.Fatalf("where=vip:true: %v", items)
	}

	// A count projection answers by event type.
	waitFor(t, m, "cnt", uint64(pos))
	if d := e.get("/api/queries/cnt?key=UserCreated").ok(t, 200); asJSON(t, d["value"]) != `{"count":12}` {
		t.Fatalf("count by key: %v", d)
	}
	if d := e.get("/api/queries/cnt").ok(t, 200); len(arr(t, d["items"])) != 1 {
		t.Fatalf("count list: %v", d)
	}

	for _, bad := range []string{"limit=0", "limit=10001", "limit=x", "cursor=%%%", "cursor=***", "where=name", "where=:x",
		"minPosition=-1", "minPosition=x", "timeout=31s", "timeout=-1s", "timeout=soon", "key=", "key=a&key=b",
		"key=user-01&where=name:x", "key=user-01&limit=2", "key=user-01&cursor=" + base64.RawURLEncoding.EncodeToString([]byte("x")),
		"limit=1&limit=2"} {
		q(bad).fail(t, 400, codeBadRequest)
	}
}

func TestQueryMinPosition(t *testing.T) {
	e, _ := newProjectionEnv(t, Config{})
	e.post("/api/projections", M{"projectionId": "users", "name": "u", "kind": "state"}).ok(t, 201)
	target := e.store.Head() + 2
	go func() {
		time.Sleep(100 * time.Millisecond)
		e.add("user-1", "UserCreated", M{"name": "a"})
		e.add("user-1", "UserUpdated", M{"name": "b"})
	}()
	began := time.Now()
	d := e.get(fmt.Sprintf("/api/queries/users?key=user-1&minPosition=%d", target)).ok(t, 200)
	if positionOf(t, d) < target || obj(t, d["value"])["name"] != "b" || time.Since(began) > 5*time.Second {
		t.Fatalf("read your writes: %v after %v", d, time.Since(began))
	}
	began = time.Now()
	r := e.get(fmt.Sprintf("/api/queries/users?minPosition=%d&timeout=300ms", target+100)).fail(t, 503, codeUnavailable)
	if took := time.Since(began); took < 250*time.Millisecond || took > 3*time.Second {
		t.Fatalf("timeout=300ms answered after %v", took)
	}
	if !strings.Contains(r["error"].(string), "has not processed position") {
		t.Fatalf("503 message: %v", r["error"])
	}
	e.get(fmt.Sprintf("/api/queries/users?minPosition=%d&timeout=1", target+100)).fail(t, 503, codeUnavailable) // whole seconds
	e.get(fmt.Sprintf("/api/queries/users?minPosition=%d&timeout=0s", target)).ok(t, 200)
}
