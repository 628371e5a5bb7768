package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// corsPage is a browser app on another origin: it appends with fetch (an
// Authorization header: a preflight) and follows $all with EventSource
// (the key as access_token), plain messages in onmessage and typed ones by
// their name. It records what it gets in window.app.
const corsPage = `<!doctype html><meta charset="utf-8"><title>app</title><script>
window.app = { appended: null, fetchError: null, plain: [], typed: [], errors: 0 };
const api = %q, key = %q;
fetch(api + '/api/events', {
  method: 'POST',
  headers: { 'Authorization': 'Bearer ' + key, 'Content-Type': 'application/json' },
  body: JSON.stringify({ streamId: 'cors-1', eventType: 'error', eventData: { from: 'page' } }),
}).then(async (r) => { app.appended = { status: r.status, body: await r.json() }; })
  .catch((e) => { app.fetchError = String(e); });
const plain = new EventSource(api + '/api/subscribe?fromPosition=0&messages=plain&access_token=' + key);
plain.onmessage = (m) => { app.plain.push({ id: m.lastEventId, ev: JSON.parse(m.data) }); };
plain.onerror = () => { app.errors++; };
const typed = new EventSource(api + '/api/streams/cors-1/subscribe?fromVersion=0&access_token=' + key);
typed.addEventListener('Deposited', (m) => { app.typed.push(JSON.parse(m.data).eventType); });
</script>`

// TestCORSInBrowser: a page served from another origin reaches a daemon
// started with --cors-origins naming it (fetch after a preflight, and
// EventSource, receiving events appended before and during the test); a
// page from an origin not listed is refused by the browser.
func TestCORSInBrowser(t *testing.T) {
	chromium(t)
	const key = "cors-secret"
	keys := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(keys, []byte(key+" write\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var apiAddr atomic.Value // the daemon's base URL, once it runs
	page := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, corsPage, apiAddr.Load(), key)
	})
	app := httptest.NewServer(page)
	defer app.Close()
	other := httptest.NewServer(page) // another origin, not listed
	defer other.Close()

	d := startDaemon(t, filepath.Join(t.TempDir(), "data"), "--auth-keys", keys, "--cors-origins", app.URL)
	apiBase := "http://" + d.addr
	apiAddr.Store(apiBase)
	ctx := browser(t, 60*time.Second)
	c := &console{t: t, ctx: ctx, base: apiBase}
	if err := chromedp.Do(ctx, chromedp.Navigate(app.URL+"/")); err != nil {
		t.Fatal(err)
	}
	c.wait("the cross-origin append", `app.appended || app.fetchError`)
	if s := c.str(`JSON.stringify(app)`); !c.boolean(`!!(app.appended && app.appended.status === 201 && app.appended.body.success === true)`) {
		t.Fatalf("fetch from %s: %s", app.URL, s)
	}
	c.wait("the appended event over EventSource (plain)", `app.plain.length >= 1`)
	if !c.boolean(`app.plain[0].ev.eventType === 'error' && app.plain[0].ev.streamId === 'cors-1' && app.plain[0].id === String(app.plain[0].ev.position)`) {
		t.Fatalf("plain: %s", c.str(`JSON.stringify(app)`))
	}
	// An event appended now arrives live, on both subscriptions.
	req, _ := http.NewRequest("POST", apiBase+"/api/events", strings.NewReader(`{"streamId":"cors-1","eventType":"Deposited","eventData":{"amount":5}}`))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	res, err := browserTestClient.Do(req)
	if err != nil || res.StatusCode != 201 {
		t.Fatalf("append: %v %v", res, err)
	}
	res.Body.Close()
	c.wait("the live event (plain, in onmessage)", `app.plain.length >= 2 && app.plain[1].ev.eventType === 'Deposited'`)
	c.wait("the live event (typed, by its name)", `app.typed.length === 1 && app.typed[0] === 'Deposited'`)
	if c.boolean(`app.errors > 0`) {
		t.Fatalf("the plain EventSource fired onerror: %s", c.str(`JSON.stringify(app)`))
	}

	// The same page from an origin not listed: the browser keeps the
	// answers from it.
	tab, cancel := chromedp.NewContext(ctx)
	defer cancel()
	c2 := &console{t: t, ctx: tab, base: apiBase}
	if err := chromedp.Do(tab, chromedp.Navigate(other.URL+"/")); err != nil {
		t.Fatal(err)
	}
	c2.wait("the refused append", `app.fetchError !== null || app.appended !== null`)
	c2.wait("the refused EventSource", `app.errors > 0`)
	if s := c2.str(`JSON.stringify(app)`); !c2.boolean(`app.fetchError !== null && app.plain.length === 0`) {
		t.Fatalf("a page from %s (not listed) reached the API: %s", other.URL, s)
	}
}

// csrfPage posts an event from another origin as a "simple" request (no
// preflight: text/plain, no-cors), which CORS alone does not stop.
const csrfPage = `<!doctype html><meta charset="utf-8"><title>evil</title><script>
window.app = { done: false, err: null };
fetch(%q + '/api/events', {
  method: 'POST', mode: 'no-cors',
  headers: { 'Content-Type': 'text/plain' },
  body: JSON.stringify({ streamId: 'csrf-1', eventType: 'Stolen', eventData: {} }),
}).then(() => { app.done = true; }).catch((e) => { app.err = String(e); app.done = true; });
</script>`

// TestCrossOriginWriteInBrowser: a page on another origin cannot append to
// a daemon with auth off and no --cors-origins by a no-cors text/plain
// POST (the browser sends Origin; the daemon refuses it).
func TestCrossOriginWriteInBrowser(t *testing.T) {
	chromium(t)
	var apiAddr atomic.Value
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, csrfPage, apiAddr.Load())
	}))
	defer evil.Close()
	d := startDaemon(t, filepath.Join(t.TempDir(), "data"))
	apiBase := "http://" + d.addr
	apiAddr.Store(apiBase)
	ctx := browser(t, 60*time.Second)
	c := &console{t: t, ctx: ctx, base: apiBase}
	if err := chromedp.Do(ctx, chromedp.Navigate(evil.URL+"/")); err != nil {
		t.Fatal(err)
	}
	c.wait("the no-cors POST", `app.done`)
	res, err := browserTestClient.Get(apiBase + "/api/streams/csrf-1")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("a no-cors POST from %s wrote: GET /api/streams/csrf-1 is %d", evil.URL, res.StatusCode)
	}
	d.stop(t)
}
