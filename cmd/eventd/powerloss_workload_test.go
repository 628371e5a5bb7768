package main

// The workload of TestPowerLoss and the ledger of what it got acknowledged.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	pvfs "github.com/cockroachdb/pebble/v2/vfs"

	"github.com/eventd/eventd/engine"
	"github.com/eventd/eventd/engine/command"
	"github.com/eventd/eventd/engine/projection"
	"github.com/eventd/eventd/engine/reducer"
	"github.com/eventd/eventd/engine/schema"
	"github.com/eventd/eventd/engine/snapshot"
	"github.com/eventd/eventd/segment/vfs"
)

// ---- what was acknowledged ---------------------------------------------------

type ackEvent struct {
	stream, id   string
	version, pos uint64
}

type ackCmd struct {
	id     string
	async  bool
	status command.Status // Completed, Failed or Pending (an accepted async command)
	events []ackEvent     // a completed command's events
}

// ackDef is an acknowledged definition change, in the admin's order.
type ackDef struct {
	kind, name, rev string // kind: reducer, schema, handler, projection
}

type ledger struct {
	mu     sync.Mutex
	events []ackEvent
	cmds   []ackCmd
	defs   []ackDef
}

type ackMark struct{ events, cmds, defs int }

func (l *ledger) mark() ackMark {
	l.mu.Lock()
	defer l.mu.Unlock()
	return ackMark{len(l.events), len(l.cmds), len(l.defs)}
}

func (l *ledger) addEvents(stream string, res engine.AppendResult) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range res.Events {
		l.events = append(l.events, ackEvent{stream, e.ID, e.Version, e.Position})
	}
}

func (l *ledger) addCmd(c ackCmd) {
	l.mu.Lock()
	l.cmds = append(l.cmds, c)
	l.mu.Unlock()
}

func (l *ledger) addDef(d ackDef) {
	l.mu.Lock()
	l.defs = append(l.defs, d)
	l.mu.Unlock()
}

// ---- the definitions of the workload ------------------------------------------

func counterDef(rev int) reducer.Definition {
	d := reducer.Definition{Name: "counter", Category: "cnt", Handlers: map[string][]reducer.Op{
		"Inc":       {{Op: "increment", Path: "n"}},
		"ItemAdded": {{Op: "increment", Path: "qty", From: "eventData.quantity"}},
	}}
	if rev > 1 { // same fold for the events the workload writes; a new revision
		d.Handlers["NeverWritten"] = []reducer.Op{{Op: "delete"}}
	}
	return d
}

func itemSchema(version uint32) schema.Definition {
	d := schema.Definition{EventType: "ItemAdded", CurrentVersion: version,
		JSONSchema: json.RawMessage(`{"type":"object","required":["quantity"],"properties":{"quantity":{"type":"integer","minimum":0}}}`)}
	d.Upcasters = []schema.Step{{From: 1, To: 2, Ops: []schema.Op{
		{Op: "rename", From: json.RawMessage(`"qty"`), To: json.RawMessage(`"quantity"`)},
		{Op: "default", Path: "unit", Value: json.RawMessage(`"pcs"`)},
	}}}
	if version > 2 { // the quantity stays; the default reducer's state changes
		d.Upcasters = append(d.Upcasters, schema.Step{From: 2, To: 3, Ops: []schema.Op{
			{Op: "default", Path: "origin", Value: json.RawMessage(`"legacy"`)},
		}})
	}
	return d
}

var plHandlers = map[string]command.HandlerDef{
	"Note": {EventType: "Noted", StreamIDFrom: "commandData.s", Expect: command.ExpectAny, Data: "commandData"},
	"Bump": {EventType: "Inc", StreamIDFrom: "commandData.counter", Expect: command.ExpectAny, Data: "commandData"},
}

// The user projections; recount says what each must hold.
var plProjections = []projection.Definition{
	{ID: "p-count", Name: "every user event", Kind: projection.KindCount},
	{ID: "p-cnt", Name: "Inc per counter", Kind: projection.KindState, StreamPrefix: "cnt-", Reducer: "counter"},
	{ID: "p-items", Name: "quantity per item", Kind: projection.KindState, StreamPrefix: "item-", Reducer: "counter", EventTypes: []string{"ItemAdded"}},
	{ID: "p-byk", Name: "Inc per k", Kind: projection.KindState, KeyBy: "eventData.k", Reducer: "counter", EventTypes: []string{"Inc"}},
}

// ---- opening everything --------------------------------------------------------

func quietLog() *slog.Logger {
	if testing.Verbose() && os.Getenv("EVENTD_TEST_LOG") != "" {
		return slog.Default()
	}
	return slog.New(slog.DiscardHandler)
}

// plEnv is the store and its subsystems, opened as wiring.go opens them.
type plEnv struct {
	store *engine.Store
	ss    *subsystems
}

func openPL(lfs vfs.FS, dfs pvfs.FS, snapOpts snapshot.Options) (*plEnv, error) {
	st, err := engine.Open(plDir, engine.Options{FS: lfs, Fsync: engine.FsyncAlways, SegmentSize: 16 << 10, CheckpointEvery: 150, Logger: quietLog()})
	if err != nil {
		return nil, fmt.Errorf("opening the store: %w", err)
	}
	ss, err := openSubsystemsTuned(st, plDir, snapOpts, quietLog(), tuning{dbFS: dfs,
		projections: projection.Options{FlushEvents: 40, FlushInterval: 2 * time.Millisecond},
		commands:    command.Options{Workers: 2}})
	if err != nil {
		_ = st.Close()
		return nil, err
	}
	return &plEnv{store: st, ss: ss}, nil
}

func (e *plEnv) close() error { return errors.Join(e.ss.close(), e.store.Close()) }

// ---- the workload ---------------------------------------------------------------

// plWorkload drives one run. Every acknowledgement goes to the ledger after
// the call returned: it was durable before.
type plWorkload struct {
	t      *testing.T
	env    *plEnv
	led    *ledger
	ops    int
	seed   uint64
	failed bool // a failing log is expected: errors end a worker quietly
}

func (w *plWorkload) setup(ctx context.Context) error {
	e, _, _, err := w.env.ss.reducers.Put(ctx, counterDef(1))
	if err != nil {
		return err
	}
	w.led.addDef(ackDef{"reducer", "counter", e.Reducer.Revision()})
	rev, _, _, err := w.env.ss.schemas.Put(ctx, itemSchema(2))
	if err != nil {
		return err
	}
	w.led.addDef(ackDef{"schema", "ItemAdded", rev})
	for _, typ := range []string{"Bump", "Note"} {
		if _, _, err := w.env.ss.commands.PutHandler(ctx, typ, plHandlers[typ]); err != nil {
			return err
		}
		w.led.addDef(ackDef{"handler", typ, plHandlers[typ].EventType})
	}
	for _, d := range plProjections {
		if _, _, err := w.env.ss.projections.Create(ctx, d); err != nil {
			return err
		}
		w.led.addDef(ackDef{"projection", d.ID, ""})
	}
	return nil
}

// worker runs ops random operations; it stops at the first error it does
// not expect (a failing log: every error).
func (w *plWorkload) worker(ctx context.Context, id int) error {
	rng := rand.New(rand.NewPCG(w.seed, uint64(id)))
	st, ss := w.env.store, w.env.ss
	var users []string
	for i := 0; i < w.ops; i++ {
		var err error
		switch r := rng.IntN(100); {
		case r < 25: // one event
			stream, ev := plEvent(rng, id, i, 0)
			var res engine.AppendResult
			if res, err = st.Append(ctx, stream, engine.Any, []engine.Proposed{ev}); err == nil {
				w.led.addEvents(stream, res)
			}
		case r < 40: // a batch, sometimes with the version it expects
			stream, _ := plEvent(rng, id, i, 0)
			n := 2 + rng.IntN(4)
			evs := make([]engine.Proposed, n)
			for k := range evs {
				_, evs[k] = plEventFor(rng, stream, id, i, k)
			}
			exp := engine.Any
			if rng.IntN(3) == 0 {
				if info, ok := st.Stream(stream); ok {
					exp = engine.ExpectedVersion(info.Version)
				} else {
					exp = engine.NoStream
				}
			}
			var res engine.AppendResult
			res, err = st.Append(ctx, stream, exp, evs)
			var wev *engine.WrongExpectedVersionError
			switch {
			case err == nil:
				w.led.addEvents(stream, res)
			case errors.As(err, &wev):
				err = nil // another worker wrote first: nothing acknowledged
			}
		case r < 70: // a command, sync or async
			req := plCommand(rng, id, i, &users)
			var out command.Outcome
			if out, err = ss.commands.Submit(ctx, req); err == nil {
				c := ackCmd{id: req.ID, async: req.Async, status: out.Command.Status}
				if c.status == command.Processing {
					c.status = command.Pending
				}
				if out.Result != nil {
					for _, e := range out.Result.Events {
						c.events = append(c.events, ackEvent{e.StreamID, e.ID, e.Version, e.Position})
					}
				}
				w.led.addCmd(c)
				if req.Type == "CreateUser" && c.status == command.Completed {
					users = append(users, req.ID[len("cmd-"):])
				}
			}
		case r < 85: // a snapshot, computed
			stream := plStreams[rng.IntN(len(plStreams))] + strconv.Itoa(rng.IntN(4))
			if _, err = ss.snapshots.Take(ctx, stream, 0); errors.Is(err, snapshot.ErrUnknownStream) || errors.Is(err, snapshot.ErrSchemasMoving) {
				err = nil
			}
		default: // queries: read side, no acknowledgement
			d := plProjections[rng.IntN(len(plProjections))]
			if _, err = ss.projections.Query(d.ID, projection.Query{Limit: 50}); err != nil {
				return fmt.Errorf("query %s: %w", d.ID, err)
			}
		}
		if err != nil {
			if w.failed && st.Err() != nil {
				return nil // the log failed, as injected: the run is over
			}
			return fmt.Errorf("worker %d op %d: %w", id, i, err)
		}
	}
	return nil
}

var plStreams = []string{"cnt-", "item-", "misc-"}

func plEvent(rng *rand.Rand, w, i, k int) (string, engine.Proposed) {
	return plEventFor(rng, plStreams[rng.IntN(len(plStreams))]+strconv.Itoa(rng.IntN(4)), w, i, k)
}

// plEventFor makes an event for stream's category: Inc for cnt-, ItemAdded
// (at schema version 1 or 2) for item-, a merge for misc-. Some carry a
// client id.
func plEventFor(rng *rand.Rand, stream string, w, i, k int) (string, engine.Proposed) {
	var ev engine.Proposed
	switch {
	case strings.HasPrefix(stream, "cnt-"):
		ev = engine.Proposed{Type: "Inc", Data: fmt.Appendf(nil, `{"k":"k%d","pad":"%s"}`, rng.IntN(5), strings.Repeat("x", rng.IntN(200)))}
	case strings.HasPrefix(stream, "item-"):
		if rng.IntN(2) == 0 {
			ev = engine.Proposed{Type: "ItemAdded", SchemaVersion: 1, Data: fmt.Appendf(nil, `{"qty":%d}`, rng.IntN(9))}
		} else {
			ev = engine.Proposed{Type: "ItemAdded", SchemaVersion: 2, Data: fmt.Appendf(nil, `{"quantity":%d,"unit":"kg"}`, rng.IntN(9))}
		}
	default:
		ev = engine.Proposed{Type: "MiscUpdated", Data: fmt.Appendf(nil, `{"updates":{"f%d":%d},"w":%d}`, rng.IntN(6), i, w)}
	}
	if rng.IntN(3) == 0 {
		ev.ID = fmt.Sprintf("w%d-%d-%d", w, i, k)
	}
	return stream, ev
}

func plCommand(rng *rand.Rand, w, i int, users *[]string) command.Request {
	req := command.Request{Async: rng.IntN(2) == 0}
	switch r := rng.IntN(10); {
	case r < 3 || len(*users) == 0:
		u := fmt.Sprintf("user-%d-%d", w, i)
		req.Type, req.ID = "CreateUser", "cmd-"+u
		req.Data = fmt.Appendf(nil, `{"userId":%q,"email":"%s@example.com","name":"N%d"}`, u, u, i)
	case r < 5:
		u := (*users)[rng.IntN(len(*users))]
		req.Type, req.Data = "UpdateUser", fmt.Appendf(nil, `{"userId":%q,"updates":{"name":"M%d"}}`, u, i)
	case r < 6:
		u := (*users)[rng.IntN(len(*users))]
		req.Type, req.Data = "DeleteUser", fmt.Appendf(nil, `{"userId":%q}`, u)
	case r < 8:
		req.Type, req.Data = "Bump", fmt.Appendf(nil, `{"counter":"cnt-%d","k":"k%d"}`, rng.IntN(4), rng.IntN(5))
	default:
		req.Type, req.Data = "Note", fmt.Appendf(nil, `{"s":"note-%d","text":"t%d"}`, rng.IntN(3), i)
	}
	if req.ID == "" {
		req.ID = fmt.Sprintf("c-%d-%d", w, i)
	}
	return req
}

// admin changes definitions now and then, one at a time: a reducer's new
// revision and a schema's new version (retiring snapshots), projection
// pause, resume and reset, a client snapshot of a replayed state.
func (w *plWorkload) admin(ctx context.Context, stop <-chan struct{}) error {
	rng := rand.New(rand.NewPCG(w.seed, 99))
	ss := w.env.ss
	steps := []func() error{
		func() error {
			e, _, _, err := ss.reducers.Put(ctx, counterDef(2))
			if err == nil {
				w.led.addDef(ackDef{"reducer", "counter", e.Reducer.Revision()})
			}
			return err
		},
		func() error { _, err := ss.projections.Pause(ctx, "p-cnt"); return err },
		func() error { return w.clientSnapshot(ctx, rng) },
		func() error {
			rev, _, _, err := ss.schemas.Put(ctx, itemSchema(3))
			if err == nil {
				w.led.addDef(ackDef{"schema", "ItemAdded", rev})
			}
			return err
		},
		func() error { _, err := ss.projections.Resume(ctx, "p-cnt"); return err },
		func() error { _, err := ss.projections.Reset(ctx, "p-items"); return err },
		func() error { return w.clientSnapshot(ctx, rng) },
		func() error { _, err := ss.projections.Reset(ctx, projection.StreamStats); return err },
	}
	// Spread over the run: step i waits for about i/len(steps) of the
	// workers' operations to be acknowledged.
	total := w.ops * 3
	for i, step := range steps {
		for {
			m := w.led.mark()
			if m.events/2+m.cmds >= (i+1)*total/(len(steps)+2) {
				break
			}
			select {
			case <-stop:
				return nil
			case <-time.After(time.Duration(1+rng.IntN(3)) * time.Millisecond):
			}
		}
		if err := step(); err != nil {
			if w.failed && w.env.store.Err() != nil {
				return nil
			}
			return err
		}
	}
	return nil
}

// clientSnapshot stores, as a client would, the state a replay from version
// 0 gives (so it agrees with the log).
func (w *plWorkload) clientSnapshot(ctx context.Context, rng *rand.Rand) error {
	stream := plStreams[rng.IntN(len(plStreams))] + strconv.Itoa(rng.IntN(4))
	info, ok := w.env.store.Stream(stream)
	if !ok {
		return nil
	}
	res, err := reducer.Replay(w.env.store, stream, nil, 0, info.Version, w.env.ss.reducers.ForStream(stream), nil)
	if err != nil {
		return err
	}
	_, err = w.env.ss.snapshots.Put(ctx, stream, info.Version, res.State)
	if errors.Is(err, snapshot.ErrSchemasMoving) {
		err = nil
	}
	return err
}

// run sets up and runs the workers and the admin; it returns the first
// unexpected error.
func (w *plWorkload) run(ctx context.Context, workers int) error {
	if err := w.setup(ctx); err != nil {
		if w.failed && w.env.store.Err() != nil {
			return nil
		}
		return fmt.Errorf("setup: %w", err)
	}
	errs := make(chan error, workers+1)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for id := range workers {
		wg.Add(1)
		go func() { defer wg.Done(); errs <- w.worker(ctx, id) }()
	}
	adminDone := make(chan error, 1)
	go func() { adminDone <- w.admin(ctx, stop) }()
	wg.Wait()
	close(stop)
	err := <-adminDone
	close(errs)
	for e := range errs {
		err = errors.Join(err, e)
	}
	return err
}
