package projection

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/eventd/eventd/engine"
	"github.com/eventd/eventd/engine/derived"
	"github.com/eventd/eventd/engine/reducer"
)

// env is a store, a derived-data db and a manager over them in a temp dir.
type env struct {
	t    testing.TB
	dir  string
	st   *engine.Store
	db   *derived.DB
	m    *Manager
	reg  *reducer.Registry
	opts Options
	fs   vfs.FS // the derived store's file system; nil: the operating system's
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// newEnv opens everything in a fresh temp dir; closed at the end of the test.
func newEnv(t testing.TB, opts Options) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), reg: newRegistry(), opts: opts}
	e.open()
	t.Cleanup(e.close)
	return e
}

func (e *env) open() {
	e.t.Helper()
	var err error
	if e.st, err = engine.Open(e.dir, engine.Options{Fsync: engine.FsyncNever, Logger: quiet()}); err != nil {
		e.t.Fatal(err)
	}
	if e.db, err = derived.Open(filepath.Join(e.dir, "projections"), e.fs, quiet()); err != nil {
		e.t.Fatal(err)
	}
	e.opts.Logger = quiet()
	if e.m, err = Open(e.db, e.st, e.reg, e.opts); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) close() {
	if e.m == nil {
		return
	}
	if err := e.m.Close(); err != nil {
		e.t.Errorf("Manager.Close: %v", err)
	}
	if err := e.db.Close(); err != nil {
		e.t.Errorf("db.Close: %v", err)
	}
	if err := e.st.Close(); err != nil {
		e.t.Errorf("store.Close: %v", err)
	}
	e.m = nil
}

// reopen closes everything cleanly and opens it again.
func (e *env) reopen() {
	e.t.Helper()
	e.close()
	e.open()
}

// add appends one event and returns its position.
func (e *env) add(stream, typ string, data any) uint64 {
	e.t.Helper()
	b, err := json.Marshal(data)
	if err != nil {
		e.t.Fatal(err)
	}
	res, err := e.st.Append(context.Background(), stream, engine.Any, []engine.Proposed{{Type: typ, Data: b}})
	if err != nil {
		e.t.Fatal(err)
	}
	return res.LastPosition
}

func (e *env) create(d Definition) Info {
	e.t.Helper()
	in, created, err := e.m.Create(context.Background(), d)
	if err != nil {
		e.t.Fatalf("Create %+v: %v", d, err)
	}
	if !created {
		e.t.Fatalf("Create %+v: not created", d)
	}
	return in
}

// wait waits (at most 10 s) until id has processed pos.
func (e *env) wait(id string, pos uint64) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.m.Wait(ctx, id, pos); err != nil {
		e.t.Fatalf("waiting for %s to reach %d: %v", id, pos, err)
	}
}

// value returns entry key of id, decoded.
func (e *env) value(id, key string) map[string]any {
	e.t.Helper()
	en, err := e.m.Lookup(id, key)
	if err != nil {
		e.t.Fatalf("Lookup(%s, %s): %v", id, key, err)
	}
	var v map[string]any
	if err := json.Unmarshal(en.Value, &v); err != nil {
		e.t.Fatalf("Lookup(%s, %s): %s: %v", id, key, en.Value, err)
	}
	return v
}

func (e *env) get(id string) Info {
	e.t.Helper()
	in, err := e.m.Get(id)
	if err != nil {
		e.t.Fatalf("Get(%s): %v", id, err)
	}
	return in
}

// countState decodes a count projection's state.
func (e *env) counts(id string) (total float64, byType map[string]float64) {
	e.t.Helper()
	in := e.get(id)
	var s struct {
		Total  float64            `json:"total"`
		ByType map[string]float64 `json:"byType"`
	}
	if err := json.Unmarshal(in.State, &s); err != nil {
		e.t.Fatalf("state of %s: %s: %v", id, in.State, err)
	}
	return s.Total, s.ByType
}

// counter is a reducer counting events into {"n": N, "v": last version}:
// an event applied twice or skipped shows as n != v.
type counter struct{}

func (counter) Name() string     { return "counter" }
func (counter) Revision() string { return "1" }
func (counter) Apply(st reducer.State, e *engine.Event) (reducer.State, error) {
	if st == nil {
		st = reducer.State{}
	}
	var n int64
	if v, ok := st["n"].(json.Number); ok {
		n, _ = v.Int64()
	}
	st["n"] = json.Number(fmt.Sprint(n + 1))
	st["v"] = json.Number(fmt.Sprint(e.Version))
	return st, nil
}

// picky fails on events of type Bad (registered for category "picky").
type picky struct{}

func (picky) Name() string     { return "picky" }
func (picky) Revision() string { return "1" }
func (picky) Apply(st reducer.State, e *engine.Event) (reducer.State, error) {
	if e.Type == "Bad" {
		return nil, fmt.Errorf("%w: type Bad", reducer.ErrApply)
	}
	return reducer.Default.Apply(st, e)
}

type engineProposed = engine.Proposed

func (e *env) appendAll(stream string, ps []engine.Proposed) uint64 {
	e.t.Helper()
	res, err := e.st.Append(context.Background(), stream, engine.Any, ps)
	if err != nil {
		e.t.Fatal(err)
	}
	return res.LastPosition
}

// storedKeys counts the keys of projection id in the store (entries and
// checkpoint).
func (e *env) storedKeys(id string) int {
	e.t.Helper()
	n := 0
	for _, r := range [][2][]byte{{dataStart(id), dataEnd(id)}, {metaKey(id), append(metaKey(id), 0)}} {
		it, err := e.db.NewIter(&pebble.IterOptions{LowerBound: r[0], UpperBound: r[1]})
		if err != nil {
			e.t.Fatal(err)
		}
		for ok := it.First(); ok; ok = it.Next() {
			n++
		}
		if err := it.Close(); err != nil {
			e.t.Fatal(err)
		}
	}
	return n
}
