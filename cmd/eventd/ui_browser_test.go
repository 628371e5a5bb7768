package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// The web console (/ui/), driven in headless Chromium against the real
// binary: every page shows what the API holds, the live tail gets an event
// appended during the test (and loses none across a pause), a projection
// reset from the console takes effect, and with --auth-keys the console asks
// for a key, a read key sees the actions disabled and an admin key can act.
//
// It needs Chromium (Debian: apt-get install -y chromium; or EVENTD_CHROMIUM
// = a Chrome/Chromium binary) and fails without one. With
// EVENTD_UI_SCREENSHOTS=<dir> it writes the pages' screenshots there (e.g.
// docs/screenshots).

// chromium finds the browser or fails the test saying how to install it.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("EVENTD_CHROMIUM"); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			t.Fatalf("EVENTD_CHROMIUM=%s: %v", p, err)
		}
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("the web console test needs Chromium and found none: install it with `apt-get update && apt-get install -y chromium` " +
		"(Debian/Ubuntu), or set EVENTD_CHROMIUM to a Chrome or Chromium binary")
	return ""
}

// browser starts headless Chromium for the test; it is killed when the test
// ends, however it ends (and by the kernel if the test binary dies). Every
// browser action must finish within limit.
func browser(t *testing.T, limit time.Duration) context.Context {
	t.Helper()
	path := chromium(t)
	var out bytes.Buffer
	var mu sync.Mutex
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-timer-throttling", true),
		chromedp.Flag("disable-renderer-backgrounding", true),
		chromedp.Flag("disable-backgrounding-occluded-windows", true),
		chromedp.WindowSize(1280, 900),
		chromedp.CombinedOutput(writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return out.Write(p) })),
		// no UserDataDir: chromedp makes a fresh temporary one and removes it
	}
	base, cancelBase := context.WithTimeout(context.Background(), limit)
	actx, cancelAlloc := chromedp.NewExecAllocator(base, opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc() // kills the browser and waits for it
		cancelBase()
		if t.Failed() {
			mu.Lock()
			t.Logf("chromium output (last 2000 bytes):\n%s", tail(out.String(), 2000))
			mu.Unlock()
		}
	})
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	return ctx
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// console drives one tab against one daemon.
type console struct {
	t    *testing.T
	ctx  context.Context
	base string // http://127.0.0.1:port
	key  string // for the test's own API calls
}

// js quotes s as a JavaScript string.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func (c *console) open(hash string) {
	c.t.Helper()
	if err := chromedp.Do(c.ctx, chromedp.Navigate(c.base+"/ui/"+hash)); err != nil {
		c.t.Fatalf("open %s: %v", hash, err)
	}
}

// goTo moves within the console (a hash change, as a click on a link).
func (c *console) goTo(hash string) {
	c.t.Helper()
	c.eval(`location.hash = ` + js(hash))
}

func (c *console) eval(expr string) {
	c.t.Helper()
	if _, err := chromedp.Run(c.ctx, chromedp.Evaluate[any](expr)); err != nil {
		c.t.Fatalf("evaluate %s: %v", expr, err)
	}
}

func (c *console) str(expr string) string {
	c.t.Helper()
	s, err := chromedp.Run(c.ctx, chromedp.Evaluate[string](expr))
	if err != nil {
		c.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return s
}

func (c *console) boolean(expr string) bool {
	c.t.Helper()
	v, err := chromedp.Run(c.ctx, chromedp.Evaluate[bool](expr))
	if err != nil {
		c.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// wait polls expr until it is truthy (10 s at most; an exception counts as
// false), else fails with what the page shows.
func (c *console) wait(what, expr string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
	defer cancel()
	guarded := `(() => { try { return (` + expr + `); } catch (e) { return false; } })()` // an element not there yet
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](guarded, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil {
		page, _ := chromedp.Run(c.ctx, chromedp.Evaluate[string](`(document.querySelector('main')?.innerText || '') + '\n[dialog] ' + (document.getElementById('login')?.open ? document.getElementById('login').innerText : 'closed')`))
		c.t.Fatalf("waiting for %s: %v\n--- the page shows:\n%s", what, err, tail(page, 3000))
	}
}

// text is "the element matching sel contains s".
func text(sel, s string) string {
	return `(document.querySelector(` + js(sel) + `)?.textContent || '').includes(` + js(s) + `)`
}

func count(sel string) string {
	return `document.querySelectorAll(` + js(sel) + `).length`
}

func (c *console) click(sel string) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(sel))); err != nil {
		c.t.Fatalf("click %s: %v", sel, err)
	}
}

// typeIn empties a text field and types s into it, key by key.
func (c *console) typeIn(sel, s string) {
	c.t.Helper()
	c.eval(`document.querySelector(` + js(sel) + `).value = ''`)
	ctx, cancel := context.WithTimeout(c.ctx, 10*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS(sel), s)); err != nil {
		c.t.Fatalf("type into %s: %v", sel, err)
	}
}

// set gives a form control a value as a user's edit would (input and
// change events), for selects and long JSON.
func (c *console) set(sel, v string) {
	c.t.Helper()
	c.eval(`(() => { const el = document.querySelector(` + js(sel) + `); el.value = ` + js(v) + `;
		el.dispatchEvent(new Event('input', {bubbles: true})); el.dispatchEvent(new Event('change', {bubbles: true})); })()`)
}

// shot takes a PNG of the whole page; with EVENTD_UI_SCREENSHOTS it is saved.
func (c *console) shot(name string) {
	c.t.Helper()
	png, err := chromedp.Run(c.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		c.t.Fatalf("screenshot %s: %v", name, err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG")) {
		c.t.Fatalf("screenshot %s is not a PNG", name)
	}
	if dir := os.Getenv("EVENTD_UI_SCREENSHOTS"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			c.t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
			c.t.Fatal(err)
		}
	}
}

// call is the test's own API request; it returns the status and the
// envelope's data.
func (c *console) call(method, path string, body any) (int, map[string]any) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	res, err := browserTestClient.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	var v struct {
		Data map[string]any `json:"data"`
	}
	b, _ := io.ReadAll(res.Body)
	_ = json.Unmarshal(b, &v)
	return res.StatusCode, v.Data
}

// must is call wanting status.
func (c *console) must(status int, method, path string, body any) map[string]any {
	c.t.Helper()
	got, data := c.call(method, path, body)
	if got != status {
		c.t.Fatalf("%s %s: %d, want %d (%v)", method, path, got, status, data)
	}
	return data
}

type obj = map[string]any

// browserTestClient is the browser tests' own client: a hung daemon fails
// a request, not the whole test run.
var browserTestClient = &http.Client{Timeout: 30 * time.Second}

func TestConsoleInBrowser(t *testing.T) {
	chromium(t) // fail first, before building, without a browser
	d := startDaemon(t, filepath.Join(t.TempDir(), "data"))
	// 60 s for everything the browser does (the build is not counted).
	ctx := browser(t, 60*time.Second)
	c := &console{t: t, ctx: ctx, base: "http://" + d.addr}
	id1, id3 := seedConsole(c)

	t.Run("overview", func(t *testing.T) { c.t = t; checkOverview(c) })
	t.Run("streams", func(t *testing.T) { c.t = t; checkStreams(c) })
	t.Run("stream", func(t *testing.T) { c.t = t; checkStream(c) })
	t.Run("tail", func(t *testing.T) { c.t = t; checkTail(c) })
	t.Run("projections", func(t *testing.T) { c.t = t; checkProjections(c) })
	t.Run("commands", func(t *testing.T) { c.t = t; checkCommands(c, id1, id3) })
	t.Run("registry", func(t *testing.T) { c.t = t; checkRegistry(c) })
	c.t = t
	if c.boolean(`window.__xss !== undefined`) {
		t.Fatal("data from the API ran as script")
	}

	// A second daemon, with keys, in a new tab.
	t.Run("auth", func(t *testing.T) {
		keys := filepath.Join(t.TempDir(), "keys")
		if err := os.WriteFile(keys, []byte("admin-secret admin\nread-secret read\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		d2 := startDaemon(t, filepath.Join(t.TempDir(), "data"), "--auth-keys", keys)
		tab, cancel := chromedp.NewContext(ctx)
		defer cancel()
		checkAuth(&console{t: t, ctx: tab, base: "http://" + d2.addr, key: "admin-secret"})
	})
}

// seedConsole writes what the pages will show; it returns the ids of a
// completed and of a failed command.
func seedConsole(c *console) (string, string) {
	c1 := c.must(201, "POST", "/api/commands", obj{"commandType": "CreateUser", "commandData": obj{"userId": "user-1", "email": "ann@example.com", "name": "Ann"}})
	c.must(201, "POST", "/api/commands", obj{"commandType": "UpdateUser", "commandData": obj{"userId": "user-1", "updates": obj{"name": "Ann Lee"}}})
	c.must(422, "POST", "/api/commands", obj{"commandType": "UpdateUser", "commandId": "cmd-fails", "commandData": obj{"userId": "user-404", "updates": obj{"name": "x"}}})
	c.must(201, "PUT", "/api/schemas/UserCreated", obj{"currentVersion": 2, "upcasters": []obj{{"from": 1, "to": 2, "ops": []obj{{"op": "rename", "from": "name", "to": "fullName"}}}}})
	c.must(201, "PUT", "/api/reducers/acct", obj{"category": "acct", "handlers": obj{"Deposited": obj{"op": "increment", "path": "balance", "from": "eventData.amount"}}})
	c.must(201, "POST", "/api/events", obj{"streamId": "acct-1", "eventType": "Deposited", "eventData": obj{"amount": 5}})
	c.must(201, "POST", "/api/events", obj{"streamId": "acct-1", "eventType": "Deposited", "eventData": obj{"amount": "ten"}})
	// Markup and a number a double cannot hold: both must show as sent.
	c.must(201, "POST", "/api/events", json.RawMessage(`{"streamId":"note-1","eventType":"NoteAdded","eventData":{"text":"<img src=x onerror=\"window.__xss=1\">","big":12345678901234567890}}`))
	for i := range 12 {
		c.must(201, "POST", "/api/events", obj{"streamId": fmt.Sprintf("item-%02d", i), "eventType": "ItemAdded", "eventData": obj{"i": i}})
	}
	evs := make([]obj, 25)
	for i := range evs {
		evs[i] = obj{"eventType": "OrderLine", "eventData": obj{"line": i + 1}}
	}
	c.must(201, "POST", "/api/streams/order-1/events", obj{"events": evs})
	c.must(201, "POST", "/api/projections", obj{"projectionId": "balances", "name": "Balances", "kind": "state", "streamPrefix": "acct", "reducer": "acct"})
	c.must(201, "POST", "/api/projections", obj{"projectionId": "types", "name": "Types <script>window.__xss=2</script>", "kind": "count"})
	c.must(201, "POST", "/api/snapshots", obj{"streamId": "user-1"})
	return c1["command"].(map[string]any)["id"].(string), "cmd-fails"
}

func checkOverview(c *console) {
	c.open("#/overview?every=1&window=60")
	c.wait("the health cards", text("#card-status", "healthy"))
	c.wait("the fsync policy", text("#card-fsync", "always"))
	c.wait("the projection in error", text("#projection-summary", "balances"))
	// Appends while the page polls /metrics: the chart gets a rate and a latency.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			b := fmt.Sprintf(`{"streamId":"load-1","eventType":"Loaded","eventData":{"i":%d}}`, i)
			if res, err := browserTestClient.Post(c.base+"/api/events", "application/json", strings.NewReader(b)); err == nil {
				res.Body.Close()
			}
		}
	}()
	defer func() { close(stop); <-done }()
	c.wait("a non-zero append rate", `parseFloat(document.getElementById('rate-now').textContent) > 0`)
	points := 2
	if os.Getenv("EVENTD_UI_SCREENSHOTS") != "" {
		points = 8 // a curve worth a picture
	}
	c.wait("the rate curve", fmt.Sprintf(`Number(document.querySelector('#chart-rate path').dataset.points) >= %d`, points))
	c.wait("the latency p99", `/ms$/.test(document.getElementById('latency-p99').textContent)`)
	c.wait("the events card", `Number(document.getElementById('card-events').textContent.replace(/,/g, '')) > 40`)
	c.shot("overview")
}

func checkStreams(c *console) {
	c.goTo("#/streams")
	for _, s := range []string{"user-1", "acct-1", "note-1", "order-1", "$commands"} {
		c.wait("stream "+s+" in the list", `document.querySelector('#stream-list tr[data-stream=`+js(s)+`]') !== null`)
	}
	c.shot("streams")
	c.typeIn("#stream-prefix", "acct")
	c.wait("the prefix search", count("#stream-list tbody tr")+` === 1 && `+text("#stream-list", "acct-1"))

	c.goTo("#/streams?prefix=item-&limit=10")
	c.wait("a first page of 10", count("#stream-list tbody tr")+` === 10 && `+text("#stream-list", "item-00"))
	c.click("#streams-next")
	c.wait("the second page", count("#stream-list tbody tr")+` === 2 && `+text("#stream-list", "item-11"))
	c.click("#streams-prev")
	c.wait("back to the first page", count("#stream-list tbody tr")+` === 10 && `+text("#stream-list", "item-00"))
}

func checkStream(c *console) {
	c.goTo("#/streams/user-1")
	c.wait("user-1's events, newest first", count("#event-list .event")+` === 2 && document.querySelector('#event-list .event').dataset.type === 'UserUpdated'`)
	c.wait("the upcast data", text("#event-list", `"fullName"`))
	c.wait("the current version", text("#stream-version", "2"))
	c.wait("the snapshot", text("#snapshot-list", "server"))
	c.click("#event-upcast")
	c.wait("the events as stored", `!`+text("#event-list", "fullName")+` && `+text("#event-list", `"Ann"`))
	c.set("#event-order", "oldest")
	c.wait("oldest first", `document.querySelector('#event-list .event')?.dataset.version === '1'`)
	c.set("#replay-to", "1")
	c.click("#replay-run")
	c.wait("the state at version 1", text("#replay-version", "1")+` && `+text("#replay-state", `"fullName": "Ann"`)+` && !`+text("#replay-state", "Ann Lee"))
	c.shot("stream")

	c.goTo("#/streams/order-1?limit=10")
	c.wait("versions 16-25", text("#events-info", "versions 16–25 of 25"))
	c.click("#events-next")
	c.wait("versions 6-15", text("#events-info", "versions 6–15 of 25"))
	c.click("#events-next")
	c.wait("versions 1-5", text("#events-info", "versions 1–5 of 25")+` && document.getElementById('events-next').disabled`)
	c.click("#events-prev")
	c.wait("back to versions 6-15", text("#events-info", "versions 6–15 of 25"))

	c.goTo("#/streams/note-1")
	c.wait("the note", text("#event-list", `<img src=x onerror=\"window.__xss=1\">`))
	c.wait("the number as sent", text("#event-list", "12345678901234567890"))
	if c.boolean(`document.querySelector('#event-list img') !== null || window.__xss !== undefined`) {
		c.t.Fatal("event data became markup")
	}
}

func checkTail(c *console) {
	c.goTo("#/tail")
	c.wait("the live subscription", `document.querySelector('#tail-status')?.dataset.state === 'live'`)
	c.must(201, "POST", "/api/events", obj{"streamId": "tail-1", "eventType": "Pinged", "eventData": obj{"n": 1}})
	c.wait("the appended event", count(`#tail-rows tr[data-stream="tail-1"]`)+` === 1`)

	c.click("#tail-pause")
	c.wait("paused", `document.querySelector('#tail-status').dataset.state === 'paused'`)
	c.must(201, "POST", "/api/events", obj{"streamId": "tail-1", "eventType": "Pinged", "eventData": obj{"n": 2}})
	time.Sleep(400 * time.Millisecond)
	if n := c.str(`String(` + count(`#tail-rows tr[data-stream="tail-1"]`) + `)`); n != "1" {
		c.t.Fatalf("an event was shown while paused: %s rows", n)
	}
	c.click("#tail-pause") // resume
	c.wait("the event appended during the pause", count(`#tail-rows tr[data-stream="tail-1"]`)+` === 2`)
	time.Sleep(300 * time.Millisecond)
	if n := c.str(`String(` + count(`#tail-rows tr[data-stream="tail-1"]`) + `)`); n != "2" {
		c.t.Fatalf("after resume: %s rows of tail-1, want 2 (none lost, none twice)", n)
	}
	c.click(`#tail-rows tr[data-stream="tail-1"]`)
	c.wait("the event's JSON", text("#tail-rows tr.detail", `"n": 2`))
	c.shot("tail")

	c.set("#tail-types", "Pinged")
	c.click("#tail-apply")
	c.wait("the filtered subscription", `document.querySelector('#tail-status').dataset.state === 'live' && `+count("#tail-rows tr.ev")+` === 0`)
	c.must(201, "POST", "/api/events", obj{"streamId": "tail-2", "eventType": "Other", "eventData": obj{}})
	c.must(201, "POST", "/api/events", obj{"streamId": "tail-3", "eventType": "Pinged", "eventData": obj{}})
	c.wait("the matching event", count(`#tail-rows tr[data-stream="tail-3"]`)+` === 1`)
	if c.boolean(`document.querySelector('#tail-rows tr[data-stream="tail-2"]') !== null`) {
		c.t.Fatal("the type filter let another type through")
	}
}

func checkProjections(c *console) {
	c.goTo("#/projections")
	c.wait("balances in error", `document.querySelector('tr[data-id="balances"][data-status="error"] .proj-error') !== null`)
	c.wait("the count projection", text(`tr[data-id="types"]`, "Types <script>window.__xss=2</script>"))
	c.wait("a system projection", `document.querySelector('tr[data-id="$stream-stats"]') !== null`)
	c.shot("projections")

	// Fix the reducer, then reset from the console: the rebuild succeeds.
	c.must(200, "PUT", "/api/reducers/acct", obj{"category": "acct", "handlers": obj{"Deposited": obj{"op": "increment", "path": "deposits"}}})
	c.click(`tr[data-id="balances"] button[data-action="reset"]`)
	c.wait("the armed reset", `document.querySelector('tr[data-id="balances"] button[data-action="reset"]').classList.contains('armed')`)
	c.click(`tr[data-id="balances"] button[data-action="reset"]`)
	c.wait("balances active again", `document.querySelector('tr[data-id="balances"][data-status="active"]') !== null`)
	if p := c.must(200, "GET", "/api/projections/balances", nil); p["status"] != "active" || p["error"] != nil {
		c.t.Fatalf("after the reset: %v", p)
	}

	c.goTo("#/projections/balances")
	c.wait("the rebuilt read model", text("#query-items", "acct-1")+` && `+text("#query-items", `"deposits": 2`))
	c.set("#query-where", "deposits:3")
	c.click("#query-run")
	c.wait("the where filter", text("#query-items", "No items match."))
	c.set("#query-where", "deposits:2")
	c.click("#query-run")
	c.wait("the where filter matching", text("#query-items", "acct-1"))
	c.shot("projection")

	c.goTo("#/projections/types")
	c.wait("the count state", text("#proj-state", `"total"`)+` && `+text("#proj-state", "OrderLine"))
}

func checkCommands(c *console, completed, failed string) {
	c.goTo("#/commands")
	c.wait("the completed command", `document.querySelector('#command-rows tr[data-id=`+js(completed)+`][data-status="completed"]') !== null`)
	c.wait("the failed command", text(`#command-rows tr[data-id=`+js(failed)+`][data-status="failed"]`, "does not exist"))
	c.typeIn("#lookup-id", completed)
	c.click("#lookup-run")
	c.wait("the looked-up command", text("#lookup-result", "completed")+` && `+text("#lookup-result", "user-1"))

	c.set("#send-type", "CreateUser")
	c.set("#send-data", `{"userId": "user-3", "email": "cy@example.com", "name": "Cy"}`)
	c.click("#send-run")
	c.wait("the command's answer", text("#send-result", "201")+` && `+text("#send-result", "user-3 v1"))
	c.must(200, "GET", "/api/streams/user-3", nil)
	c.wait("the new command in the list", text("#command-rows", "user-3"))
	c.shot("commands")
}

func checkRegistry(c *console) {
	c.goTo("#/schemas")
	c.wait("the schema list", text(`#schemas-list tr[data-name="UserCreated"]`, "v2"))
	c.goTo("#/schemas/UserCreated")
	c.wait("the upcaster chain", text("#upcaster-chain", "v1 → v2")+` && `+text("#upcaster-chain", "rename name → fullName"))
	c.wait("the editor filled", `document.getElementById('edit-body').value.includes('"currentVersion": 2')`)
	c.shot("schemas")
	c.goTo("#/schemas")
	c.wait("the empty editor", `document.getElementById('edit-name').value === ''`)
	c.set("#edit-name", "NoteAdded")
	c.set("#edit-body", `{"currentVersion": 1, "jsonSchema": {"type": "object", "required": ["text"]}}`)
	c.click("#edit-put")
	c.wait("the registration", text("#edit-result", "201"))
	c.must(200, "GET", "/api/schemas/NoteAdded", nil)
	c.wait("the new schema listed", `document.querySelector('#schemas-list tr[data-name="NoteAdded"]') !== null`)

	c.goTo("#/reducers/acct")
	c.wait("the reducer", text("#reducer-handlers", "increment deposits")+` && `+text("#reducers-list", "default"))
	c.shot("reducers")
	c.goTo("#/reducers")
	c.wait("the empty editor", `document.getElementById('edit-name').value === ''`)
	c.set("#edit-name", "notes")
	c.set("#edit-body", `{"handlers": {"NoteAdded": {"op": "merge"}}}`)
	c.click("#edit-put")
	c.wait("the registration", text("#edit-result", "201"))
	c.must(200, "GET", "/api/reducers/notes", nil)

	c.goTo("#/handlers/CreateUser")
	c.wait("the built-in handler", text("#handlers-detail", "UserCreated")+` && `+text("#handlers-detail", "email"))
}

func checkAuth(c *console) {
	c.must(201, "POST", "/api/projections", obj{"projectionId": "p1", "name": "P1", "kind": "count"})
	c.open("#/projections")
	c.wait("the key dialog", `document.getElementById('login').open`)
	c.shot("login")
	c.typeIn("#login-key", "not-a-key")
	c.click("#login-submit")
	c.wait("the refusal", text("#login-error", "not accepted"))

	c.typeIn("#login-key", "read-secret")
	c.click("#login-submit")
	c.wait("the read role", `!document.getElementById('login').open && `+text("#role", "key: read"))
	c.wait("the projection", `document.querySelector('tr[data-id="p1"] button[data-action="pause"]') !== null`)
	if !c.boolean(`document.querySelector('tr[data-id="p1"] button[data-action="pause"]').disabled &&
		document.querySelector('tr[data-id="p1"] button[data-action="reset"]').disabled &&
		document.querySelector('#new-proj fieldset').disabled`) {
		c.t.Fatal("a read key sees projection actions enabled")
	}
	if got := c.str(`sessionStorage.getItem('eventd.key') + '|' + localStorage.length`); got != "read-secret|0" {
		c.t.Fatalf("key storage: %q, want it in sessionStorage only", got)
	}
	c.shot("read-only")
	c.goTo("#/commands")
	c.wait("the send form disabled", `document.querySelector('#send-form fieldset')?.disabled === true`)
	c.goTo("#/streams")
	c.wait("the streams with a read key", `document.querySelector('#stream-list tr[data-stream="$projections"]') !== null`)
	c.goTo("#/tail")
	c.wait("the live tail with a read key", `document.querySelector('#tail-status')?.dataset.state === 'live'`)

	c.click("#change-key")
	c.wait("the key dialog again", `document.getElementById('login').open`)
	c.typeIn("#login-key", "admin-secret")
	c.click("#login-submit")
	c.wait("the admin role", `!document.getElementById('login').open && `+text("#role", "key: admin"))
	c.goTo("#/projections")
	c.wait("pause enabled", `document.querySelector('tr[data-id="p1"] button[data-action="pause"]')?.disabled === false`)
	c.click(`tr[data-id="p1"] button[data-action="pause"]`)
	c.wait("p1 paused", `document.querySelector('tr[data-id="p1"][data-status="paused"]') !== null`)
	if p := c.must(200, "GET", "/api/projections/p1", nil); p["status"] != "paused" {
		c.t.Fatalf("after pausing from the console: %v", p)
	}
	c.click(`tr[data-id="p1"] button[data-action="resume"]`)
	c.wait("p1 running again", `document.querySelector('tr[data-id="p1"][data-status="active"]') !== null`)

	// Create one from the form, then delete it from its page.
	c.set("#new-proj-id", "from-ui")
	c.set("#new-proj-name", "Made in the console")
	c.set("#new-proj-types", "Pinged, Ponged")
	c.click("#new-proj-create")
	c.wait("the new projection's page", text("#proj-summary", "Made in the console")+` && `+text("#proj-summary", "Pinged, Ponged"))
	c.must(200, "GET", "/api/projections/from-ui", nil)
	c.click(`button[data-action="delete"]`)
	c.click(`button[data-action="delete"]`)
	c.wait("back on the list", `location.hash === '#/projections' && document.querySelector('tr[data-id="p1"]') !== null`)
	if st, _ := c.call("GET", "/api/projections/from-ui", nil); st != 404 {
		c.t.Fatalf("after deleting from the console: %d", st)
	}
}
