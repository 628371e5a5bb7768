package server

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var tsRe = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$`)

func TestAppendAndRead(t *testing.T) {
	e := newEnv(t, Config{})
	d := e.post("/api/events", `{"streamId":"user-1","eventType":"UserCreated","eventData":{"name": "Ann", "n": 1.50},"metadata":{"c":"x"}}`).ok(t, 201)
	for _, k := range []string{"eventId", "streamId", "version", "eventType", "timestamp", "position"} {
		if _, ok := d[k]; !ok {
			t.Fatalf("append answer lacks %q: %v", k, d)
		}
	}
	if num(t, d["version"]) != 1 || num(t, d["position"]) != 1 || !tsRe.MatchString(d["timestamp"].(string)) {
		t.Fatalf("bad append answer %v", d)
	}
	for i := 2; i <= 5; i++ {
		e.add("user-1", "UserUpdated", M{"updates": M{"step": i}})
	}
	page := e.get("/api/events/user-1").ok(t, 200)
	evs := arr(t, page["events"])
	if !slices.Equal(versions(t, evs), []int64{1, 2, 3, 4, 5}) || num(t, page["currentVersion"]) != 5 {
		t.Fatalf("read: %v", page)
	}
	if _, ok := page["nextFromVersion"]; ok {
		t.Fatalf("nextFromVersion on the last page: %v", page)
	}
	first := obj(t, evs[0])
	if string(e.get("/api/events/user-1?limit=1").body) == "" || first["eventId"] != d["eventId"] {
		t.Fatal("eventId differs")
	}
	if !strings.Contains(string(e.get("/api/events/user-1?limit=1").body), `"eventData":{"name": "Ann", "n": 1.50}`) {
		t.Fatalf("eventData not returned as stored: %v", first["eventData"])
	}
	if fmt.Sprint(first["metadata"]) != "map[c:x]" || fmt.Sprint(obj(t, evs[1])["metadata"]) != "map[]" {
		t.Fatalf("metadata: %v / %v", first["metadata"], obj(t, evs[1])["metadata"])
	}
	if num(t, first["schemaVersion"]) != 1 {
		t.Fatal("schemaVersion default")
	}

	cases := []struct {
		path string
		want []int64
		next int64 // 0: absent
	}{
		{"/api/events/user-1/2", []int64{3, 4, 5}, 0},
		{"/api/events/user-1?fromVersion=2", []int64{3, 4, 5}, 0},
		{"/api/events/user-1?limit=2", []int64{1, 2}, 2},
		{"/api/events/user-1?fromVersion=2&limit=2", []int64{3, 4}, 4},
		{"/api/events/user-1?fromVersion=5", []int64{}, 0},
		{"/api/events/user-1?direction=backward", []int64{5, 4, 3, 2, 1}, 0},
		{"/api/events/user-1?direction=backward&limit=2", []int64{5, 4}, 4},
		{"/api/events/user-1/4?direction=backward&limit=2", []int64{3, 2}, 2},
		{"/api/events/user-1?direction=backward&fromVersion=0", []int64{}, 0},
		{"/api/events/user-1?direction=backward&fromVersion=1", []int64{}, 0},
		{"/api/events/user-1?upcast=false", []int64{1, 2, 3, 4, 5}, 0},
		{"/api/events/nobody", []int64{}, 0},
		{"/api/events/$commands", []int64{}, 0},
	}
	for _, c := range cases {
		p := e.get(c.path).ok(t, 200)
		got := versions(t, arr(t, p["events"]))
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: want %v, got %v", c.path, c.want, got)
		}
		nv, ok := p["nextFromVersion"]
		if (c.next == 0) == ok || (ok && num(t, nv) != c.next) {
			t.Errorf("%s: nextFromVersion %v, want %d", c.path, nv, c.next)
		}
	}
}

func TestBatchAppend(t *testing.T) {
	e := newEnv(t, Config{})
	e.add("order-1", "Opened", M{})
	d := e.post("/api/streams/order-1/events", M{"expectedVersion": 1, "events": []M{
		{"eventType": "A", "eventData": M{"i": 1}, "eventId": "id-a", "schemaVersion": 2},
		{"eventType": "B", "eventData": M{"i": 2}, "metadata": M{"m": 1}, "eventId": "id-b"},
	}}).ok(t, 201)
	if num(t, d["firstVersion"]) != 2 || num(t, d["lastVersion"]) != 3 || num(t, d["firstPosition"]) != 2 || num(t, d["lastPosition"]) != 3 {
		t.Fatalf("batch answer %v", d)
	}
	evs := arr(t, d["events"])
	if len(evs) != 2 || obj(t, evs[0])["eventId"] != "id-a" {
		t.Fatalf("batch events %v", evs)
	}
	// A retry of the same ids is the earlier result, 200, duplicate.
	r := e.post("/api/streams/order-1/events", M{"expectedVersion": 1, "events": []M{
		{"eventType": "A", "eventData": M{"i": 1}, "eventId": "id-a"},
		{"eventType": "B", "eventData": M{"i": 2}, "eventId": "id-b"},
	}})
	dup := r.ok(t, 200)
	if dup["duplicate"] != true || num(t, dup["firstVersion"]) != 2 {
		t.Fatalf("duplicate answer %s", r.body)
	}
	// Partial overlap: 409 duplicate_event, nothing written.
	e.post("/api/streams/order-1/events", M{"events": []M{
		{"eventType": "A", "eventData": M{}, "eventId": "id-a"},
		{"eventType": "A", "eventData": M{}, "eventId": "id-new"},
	}}).fail(t, 409, codeDuplicateEvent)
	// Wrong expected version, with details as sent.
	f := e.post("/api/streams/order-1/events", M{"expectedVersion": "no_stream", "events": []M{{"eventType": "A", "eventData": M{}}}}).fail(t, 409, codeWrongExpected)
	det := obj(t, f["details"])
	if det["expectedVersion"] != "no_stream" || num(t, det["currentVersion"]) != 3 {
		t.Fatalf("details %v", det)
	}
	if h := e.store.Head(); h != 3 {
		t.Fatalf("head %d after refused appends, want 3", h)
	}
	p := e.get("/api/events/order-1/1").ok(t, 200)
	ev0 := obj(t, arr(t, p["events"])[0])
	if num(t, ev0["schemaVersion"]) != 2 || ev0["eventId"] != "id-a" {
		t.Fatalf("stored batch event %v", ev0)
	}
}

func TestExpectedVersionMatrix(t *testing.T) {
	e := newEnv(t, Config{})
	cases := []struct {
		existing bool
		ev       any
		wins     bool
	}{
		{false, nil, true}, {true, nil, true}, {false, "any", true}, {true, -2, true},
		{false, 0, true}, {true, 0, false}, {false, "no_stream", true}, {true, -1, false},
		{false, "exists", false}, {true, "exists", true}, {false, -4, false}, {true, -4, true},
		{true, 2, true}, {true, 1, false}, {true, 3, false}, {false, 1, false},
	}
	for i, c := range cases {
		s := fmt.Sprintf("ev-%d", i)
		cur := int64(0)
		if c.existing {
			e.add(s, "Seeded", M{})
			e.add(s, "Seeded", M{})
			cur = 2
		}
		body := M{"streamId": s, "eventType": "Tried", "eventData": M{}}
		if c.ev != nil {
			body["expectedVersion"] = c.ev
		}
		r := e.post("/api/events", body)
		if c.wins {
			if num(t, r.ok(t, 201)["version"]) != cur+1 {
				t.Fatalf("case %d: %s", i, r.body)
			}
			continue
		}
		det := obj(t, r.fail(t, 409, codeWrongExpected)["details"])
		if num(t, det["currentVersion"]) != cur || fmt.Sprint(det["expectedVersion"]) != fmt.Sprint(c.ev) {
			t.Fatalf("case %d: details %v", i, det)
		}
	}
}

func TestIdempotentSingleAppend(t *testing.T) {
	e := newEnv(t, Config{})
	body := M{"streamId": "pay-1", "eventType": "Paid", "eventData": M{"a": 1}, "eventId": "evt-1", "expectedVersion": "no_stream"}
	first := e.post("/api/events", body).ok(t, 201)
	e.add("pay-1", "Later", M{})
	again := e.post("/api/events", body).ok(t, 200)
	if again["duplicate"] != true {
		t.Fatalf("want duplicate: %v", again)
	}
	for k, v := range first {
		if fmt.Sprint(again[k]) != fmt.Sprint(v) {
			t.Fatalf("duplicate answer %s = %v, first was %v", k, again[k], v)
		}
	}
	// The same id in another stream is a new event.
	body["streamId"] = "pay-2"
	e.post("/api/events", body).ok(t, 201)
}

func TestStreamsAndAll(t *testing.T) {
	e := newEnv(t, Config{})
	for _, s := range []string{"ls-c", "ls-a", "ls-b", "other-1"} {
		e.add(s, "Listed", M{"s": s})
	}
	e.add("ls-b", "Typed", M{})
	var got []string
	cursor := ""
	for page := 0; page < 10; page++ {
		q := url.Values{"prefix": {"ls-"}, "limit": {"2"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		d := e.get("/api/streams?"+q.Encode()).ok(t, 200)
		for _, s := range arr(t, d["streams"]) {
			m := obj(t, s)
			got = append(got, m["streamId"].(string))
			if !tsRe.MatchString(m["createdAt"].(string)) || !tsRe.MatchString(m["updatedAt"].(string)) {
				t.Fatalf("stream times %v", m)
			}
		}
		nc, ok := d["nextCursor"]
		if !ok {
			break
		}
		cursor = nc.(string)
	}
	if !slices.Equal(got, []string{"ls-a", "ls-b", "ls-c"}) {
		t.Fatalf("streams listing %v", got)
	}
	one := e.get("/api/streams/ls-b").ok(t, 200)
	if num(t, one["currentVersion"]) != 2 {
		t.Fatalf("stream ls-b %v", one)
	}
	e.get("/api/streams/nope").fail(t, 404, codeNotFound)

	all := e.get("/api/all?fromPosition=0&limit=3").ok(t, 200)
	if ps := positions(t, arr(t, all["events"])); !slices.Equal(ps, []int64{1, 2, 3}) || num(t, all["nextFromPosition"]) != 3 || num(t, all["headPosition"]) != 5 {
		t.Fatalf("$all page %s", all)
	}
	for q, want := range map[string][]int64{
		"fromPosition=3":                      {4, 5},
		"direction=backward&limit=2":          {5, 4},
		"direction=backward&fromPosition=3":   {2, 1},
		"direction=backward&fromPosition=0":   {},
		"eventTypes=Typed":                    {5},
		"eventTypes=Listed,Typed&limit=10":    {1, 2, 3, 4, 5},
		"streamPrefix=other-":                 {4},
		"excludeSystem=true&streamPrefix=ls-": {1, 2, 3, 5},
		"fromPosition=5":                      {},
	} {
		got := positions(t, arr(t, e.get("/api/all?"+q).ok(t, 200)["events"]))
		if !slices.Equal(got, want) {
			t.Errorf("/api/all?%s: want %v, got %v", q, want, got)
		}
	}
}

func positions(t *testing.T, evs []any) []int64 {
	out := make([]int64, len(evs))
	for i, e := range evs {
		out[i] = num(t, obj(t, e)["position"])
	}
	return out
}

func TestReplayDefaultReducer(t *testing.T) {
	e := newEnv(t, Config{})
	c := e.add("user-7", "UserCreated", M{"userId": "user-7", "email": "a@x", "address": M{"city": "Oslo"}})
	e.add("user-7", "UserUpdated", M{"updates": M{"name": "B", "age": 31}})
	e.add("user-7", "ProfileTagged", M{"tags": []any{"vip"}, "email": nil, "address": M{"zip": "0150"}})
	u := e.add("user-7", "UserUpdated", M{"nickname": "Annie"})
	r := e.post("/api/events/user-7/replay", M{"useSnapshot": false, "reducer": "default"}).ok(t, 200)
	want := fmt.Sprint(M{"userId": "user-7", "address": M{"city": "Oslo", "zip": "0150"}, "name": "B", "age": 31,
		"tags": []any{"vip"}, "nickname": "Annie", "createdAt": c["timestamp"], "updatedAt": u["timestamp"]})
	if got := fmt.Sprint(r["finalState"]); got != want {
		t.Fatalf("finalState\n got %s\nwant %s", got, want)
	}
	if r["snapshotVersion"] != nil || num(t, r["eventsApplied"]) != 4 || num(t, r["toVersion"]) != 4 || len(arr(t, r["events"])) != 4 {
		t.Fatalf("replay answer %v", r)
	}
	d := e.add("user-7", "UserDeleted", M{})
	st := obj(t, e.post("/api/events/user-7/replay", "").ok(t, 200)["finalState"])
	if st["deleted"] != true || st["deletedAt"] != d["timestamp"] {
		t.Fatalf("after delete %v", st)
	}
	r = e.post("/api/events/user-7/replay", M{"fromVersion": 2, "toVersion": 3, "includeEvents": true}).ok(t, 200)
	if !slices.Equal(versions(t, arr(t, r["events"])), []int64{3}) || num(t, r["eventsApplied"]) != 3 {
		t.Fatalf("fromVersion 2 toVersion 3: %v", r)
	}
	r = e.post("/api/events/user-7/replay", M{"includeEvents": false}).ok(t, 200)
	if _, ok := r["events"]; ok {
		t.Fatal("events present with includeEvents false")
	}
	e.post("/api/events/user-7/replay", M{"toVersion": 9}).fail(t, 400, codeBadRequest)
	e.post("/api/events/user-7/replay", M{"fromVersion": 3, "toVersion": 2}).fail(t, 400, codeBadRequest)
	e.post("/api/events/user-7/replay", M{"reducer": "nope"}).fail(t, 400, codeBadRequest)
	e.post("/api/events/nobody/replay", M{}).fail(t, 404, codeNotFound)
}

func TestHealth(t *testing.T) {
	e := newEnv(t, Config{})
	e.add("h-1", "A", M{})
	r := e.get("/health")
	if r.status != 200 || r.v["status"] != "healthy" || r.v["success"] != nil {
		t.Fatalf("health %d %s", r.status, r.body)
	}
	for _, k := range []string{"timestamp", "totalEvents", "totalStreams", "totalCommands", "headPosition", "uptimeSeconds", "fsync", "dataDirBytes", "problems"} {
		if _, ok := r.v[k]; !ok {
			t.Fatalf("health lacks %s: %s", k, r.body)
		}
	}
	if num(t, r.v["totalEvents"]) != 1 || num(t, r.v["totalCommands"]) != 0 || r.v["fsync"] != "never" {
		t.Fatalf("health %s", r.body)
	}
}

func TestUnknownRoutesUseEnvelope(t *testing.T) {
	e := newEnv(t, Config{})
	e.get("/api/nothing").fail(t, 404, codeNotFound)
	e.do("DELETE", "/api/events", nil).fail(t, 405, codeBadRequest)
	e.get("/api/events/").fail(t, 404, codeNotFound)
}

func TestLargeBodiesAndEvents(t *testing.T) {
	e := newEnv(t, Config{MaxBody: 64 << 10, MaxEventSize: 1 << 10})
	big := strings.Repeat("x", 2<<10)
	e.post("/api/events", M{"streamId": "s-1", "eventType": "A", "eventData": M{"b": big}}).fail(t, 413, codeTooLarge)
	e.post("/api/events", M{"streamId": "s-1", "eventType": "A", "eventData": M{}, "metadata": M{"b": big}}).fail(t, 413, codeTooLarge)
	huge := strings.Repeat("y", 70<<10)
	e.post("/api/events", M{"streamId": "s-1", "eventType": "A", "eventData": M{"b": huge}}).fail(t, 413, codeTooLarge)
	// Chunked (no Content-Length) is limited too.
	e.post("/api/events", strings.NewReader(`{"streamId":"s-1","eventType":"A","eventData":{"b":"`+huge+`"}}`)).fail(t, 413, codeTooLarge)
	e.post("/api/events", M{"streamId": "s-1", "eventType": "A", "eventData": M{"b": strings.Repeat("z", 900)}}).ok(t, 201)
}
