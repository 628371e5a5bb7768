package main

// Checking one crash image of TestPowerLoss against the ledger.

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/eventd/eventd/engine"
	"github.com/eventd/eventd/engine/command"
	"github.com/eventd/eventd/engine/projection"
	"github.com/eventd/eventd/engine/reducer"
	"github.com/eventd/eventd/engine/schema"
	"github.com/eventd/eventd/engine/snapshot"
)

// ---- checking a crash image ----------------------------------------------------

// plStats sums what the checks saw over a sweep.
type plStats struct {
	mu                        sync.Mutex
	points, events, commands  int
	pendingRun, snapshotsUsed int
	snapshotsRetired          int
}

// checkImage reopens everything on img and checks the promises; it returns
// a description of the first broken one.
func checkImage(led *ledger, img *crashImage, stats *plStats) (err error) {
	env, err := openPL(img.log, img.db, snapshot.Options{Every: -1, After: -1})
	if err != nil {
		return fmt.Errorf("reopening: %w", err)
	}
	defer func() {
		if cerr := env.close(); cerr != nil && err == nil {
			err = fmt.Errorf("closing: %w", cerr)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	led.mu.Lock()
	events := slices.Clone(led.events[:img.acked.events])
	cmds := slices.Clone(led.cmds[:img.acked.cmds])
	defs := slices.Clone(led.defs[:img.acked.defs])
	led.mu.Unlock()
	st, ss := env.store, env.ss

	// Events: 1..head without a gap, each id once per stream, every
	// acknowledged one in place.
	all, err := readAllEvents(st)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for i, e := range all {
		if e.Position != uint64(i+1) {
			return fmt.Errorf("gap: event %d has position %d", i, e.Position)
		}
		k := e.StreamID + "/" + e.ID
		if seen[k] {
			return fmt.Errorf("event %s twice", k)
		}
		seen[k] = true
	}
	for _, a := range events {
		if a.pos > uint64(len(all)) {
			return fmt.Errorf("acknowledged event %s/%s at %d lost (head %d)", a.stream, a.id, a.pos, len(all))
		}
		if e := all[a.pos-1]; e.StreamID != a.stream || e.ID != a.id || e.Version != a.version {
			return fmt.Errorf("position %d holds %s/%s v%d, acknowledged %s/%s v%d", a.pos, e.StreamID, e.ID, e.Version, a.stream, a.id, a.version)
		}
	}

	// Definitions: the last acknowledged revision, or the one after it
	// that was being written at the crash.
	if err := checkDefs(ss, defs); err != nil {
		return err
	}

	// Projections left paused by the crash run again.
	list, err := ss.projections.List()
	if err != nil {
		return err
	}
	for _, in := range list {
		if in.Status == projection.StatusPaused {
			if _, err := ss.projections.Resume(ctx, in.ID); err != nil {
				return fmt.Errorf("resume %s: %w", in.ID, err)
			}
		}
	}

	// Commands: every accepted async command finishes; acknowledged
	// statuses hold; nothing ran twice.
	pending, err := settleCommands(ctx, st, ss.commands)
	if err != nil {
		return err
	}
	for _, c := range cmds {
		out, err := ss.commands.Status(c.id)
		if err != nil {
			return fmt.Errorf("acknowledged command %s (%v, async %v): %w", c.id, c.status, c.async, err)
		}
		got := out.Command.Status
		switch {
		case c.status == command.Pending && !got.Final():
			return fmt.Errorf("accepted command %s is still %v", c.id, got)
		case c.status != command.Pending && got != c.status:
			return fmt.Errorf("command %s was acknowledged %v, is %v", c.id, c.status, got)
		}
		if c.status == command.Completed {
			if out.Result == nil || len(out.Result.Events) != len(c.events) {
				return fmt.Errorf("command %s: result %+v, acknowledged %+v", c.id, out.Result, c.events)
			}
			for i, e := range out.Result.Events {
				if a := c.events[i]; e.Position != a.pos || e.ID != a.id || e.Version != a.version || e.StreamID != a.stream {
					return fmt.Errorf("command %s: event %+v, acknowledged %+v", c.id, e, a)
				}
			}
		}
	}
	all, err = readAllEvents(st) // the commands run since
	if err != nil {
		return err
	}
	ran := map[string]int{}
	for _, e := range all {
		if engine.IsSystemStream(e.StreamID) || len(e.Metadata) == 0 {
			continue
		}
		var m struct{ CommandID string }
		if json.Unmarshal(e.Metadata, &m) == nil && m.CommandID != "" {
			ran[m.CommandID]++
		}
	}
	for id, n := range ran {
		if n != 1 {
			return fmt.Errorf("command %s ran %d times", id, n)
		}
	}

	// Projections equal a recount of the log.
	head := st.Head()
	if head != uint64(len(all)) {
		return fmt.Errorf("head moved to %d after the commands settled at %d", head, len(all))
	}
	want := plRecount(all)
	if list, err = ss.projections.List(); err != nil {
		return err
	}
	for _, in := range list {
		id := in.ID
		w, ok := want[id]
		if !ok {
			return fmt.Errorf("unknown projection %s", id)
		}
		if err := ss.projections.Wait(ctx, id, head); err != nil {
			in, _ := ss.projections.Get(id)
			return fmt.Errorf("projection %s did not reach %d: %w (%+v)", id, head, err, in)
		}
		got, err := projectionEntries(ss.projections, id)
		if err != nil {
			return err
		}
		if d := diffMaps(got, w); d != "" {
			return fmt.Errorf("projection %s differs from a recount of the log: %s", id, d)
		}
	}

	// Snapshots: a replay from the newest usable one equals a replay from
	// version 0, at every version that has a snapshot and at the head.
	used, retired, err := checkSnapshots(ctx, st, ss, all)
	if err != nil {
		return err
	}
	stats.mu.Lock()
	stats.points++
	stats.events += len(events)
	stats.commands += len(cmds)
	stats.pendingRun += pending
	stats.snapshotsUsed += used
	stats.snapshotsRetired += retired
	stats.mu.Unlock()
	return nil
}

func readAllEvents(st *engine.Store) ([]engine.Event, error) {
	var all []engine.Event
	for from := uint64(0); ; {
		p, err := st.ReadAll(from, engine.Forward, 5000, engine.Filter{})
		if err != nil {
			return nil, fmt.Errorf("reading $all after %d: %w", from, err)
		}
		if len(p.Events) == 0 {
			return all, nil
		}
		all = append(all, p.Events...)
		from = p.Events[len(p.Events)-1].Position
	}
}

func checkDefs(ss *subsystems, defs []ackDef) error {
	last := map[string]ackDef{}
	for _, d := range defs {
		last[d.kind+" "+d.name] = d
	}
	for k, d := range last {
		switch d.kind {
		case "reducer":
			red, ok := ss.reducers.Lookup(d.name)
			if !ok {
				return fmt.Errorf("acknowledged reducer %s is gone", d.name)
			}
			if rev := red.Revision(); rev != d.rev && !nextRevision(d, rev) {
				return fmt.Errorf("reducer %s has revision %s, acknowledged %s", d.name, rev, d.rev)
			}
		case "schema":
			if rev := ss.schemas.Revision(d.name); rev != d.rev && !nextRevision(d, rev) {
				return fmt.Errorf("schema %s has revision %q, acknowledged %s", d.name, rev, d.rev)
			}
		case "handler":
			found := false
			for _, h := range ss.commands.Handlers() {
				found = found || h.CommandType == d.name && h.EventType == d.rev
			}
			if !found {
				return fmt.Errorf("acknowledged command handler %s is gone", d.name)
			}
		case "projection":
			if _, err := ss.projections.Get(d.name); err != nil {
				return fmt.Errorf("acknowledged projection %s: %w", d.name, err)
			}
		default:
			return fmt.Errorf("unknown definition %s", k)
		}
	}
	return nil
}

// nextRevision: rev is that of the admin's next change of d (in flight at
// the crash: durable, not yet acknowledged).
func nextRevision(d ackDef, rev string) bool {
	switch d.kind {
	case "reducer":
		r, err := reducer.Compile(counterDef(2))
		return err == nil && r.Revision() == rev
	case "schema":
		reg := schema.New()
		r, _, _, err := reg.Put(context.Background(), itemSchema(3))
		return err == nil && r == rev
	}
	return false
}

// settleCommands waits until every command accepted in $commands is final
// and returns how many were pending.
func settleCommands(ctx context.Context, st *engine.Store, svc *command.Service) (int, error) {
	latest := map[string]string{}
	var from uint64
	for {
		n := 0
		_, _, err := st.ReadStreamFunc(commandsStream, from, engine.Forward, 1000, func(e *engine.Event) error {
			n++
			from = e.Version
			var d struct{ ID string }
			if err := json.Unmarshal(e.Data, &d); err != nil {
				return err
			}
			latest[d.ID] = e.Type
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("reading %s: %w", commandsStream, err)
		}
		if n == 0 {
			break
		}
	}
	pending := 0
	for id, typ := range latest {
		if typ == "CommandAccepted" {
			pending++
		}
		// Every one, not only the accepted ones: the service marks a
		// command completed just after its CommandCompleted is in the log,
		// so a read of the log may see it first.
		for {
			out, err := svc.Status(id)
			if err != nil {
				return 0, fmt.Errorf("status of pending command %s: %w", id, err)
			}
			if out.Command.Status.Final() {
				break
			}
			select {
			case <-ctx.Done():
				return 0, fmt.Errorf("pending command %s did not finish: %v", id, out.Command.Status)
			case <-time.After(time.Millisecond):
			}
		}
	}
	return pending, nil
}

// plRecount computes from the log what each projection must hold: key →
// "field=value …" for the fields projectionEntries renders.
func plRecount(all []engine.Event) map[string]map[string]string {
	type sstats struct{ version, events, first, last uint64 }
	out := map[string]map[string]string{}
	for _, d := range plProjections {
		out[d.ID] = map[string]string{}
	}
	out[projection.ByEventType], out[projection.ByCategory], out[projection.StreamStats] = map[string]string{}, map[string]string{}, map[string]string{}
	byType, cnt, cat, catStreams := map[string]int{}, map[string]int{}, map[string]int{}, map[string]int{}
	streams := map[string]*sstats{}
	cntN, byK := map[string]int{}, map[string]int{}
	qty := map[string]int64{}
	total := 0
	for _, e := range all {
		byType[e.Type]++
		c := reducer.Category(e.StreamID)
		cat[c]++
		if e.Version == 1 {
			catStreams[c]++
		}
		s := streams[e.StreamID]
		if s == nil {
			s = &sstats{first: e.Position}
			streams[e.StreamID] = s
		}
		s.version, s.last = e.Version, e.Position
		s.events++
		if engine.IsSystemStream(e.StreamID) {
			continue
		}
		cnt[e.Type]++
		total++
		var d struct {
			K        string
			Quantity *int64
		}
		_ = json.Unmarshal(e.Data, &d)
		if strings.HasPrefix(e.StreamID, "cnt-") && e.Type == "Inc" {
			cntN[e.StreamID]++
		}
		if strings.HasPrefix(e.StreamID, "item-") && e.Type == "ItemAdded" {
			q := qty[e.StreamID]
			if d.Quantity != nil {
				q += *d.Quantity
			}
			qty[e.StreamID] = q
		}
		if e.Type == "Inc" && d.K != "" {
			byK[d.K]++
		}
	}
	for k, v := range byType {
		out[projection.ByEventType][k] = fmt.Sprintf("count=%d", v)
	}
	for k, v := range cat {
		out[projection.ByCategory][k] = fmt.Sprintf("events=%d streams=%d", v, catStreams[k])
	}
	for k, s := range streams {
		out[projection.StreamStats][k] = fmt.Sprintf("events=%d firstPosition=%d lastPosition=%d version=%d", s.events, s.first, s.last, s.version)
	}
	for k, v := range cnt {
		out["p-count"][k] = fmt.Sprintf("count=%d", v)
	}
	out["p-count"]["$total"] = strconv.Itoa(total)
	for k, v := range cntN {
		out["p-cnt"][k] = fmt.Sprintf("n=%d", v)
	}
	for k, v := range qty {
		out["p-items"][k] = fmt.Sprintf("qty=%d", v)
	}
	for k, v := range byK {
		out["p-byk"][k] = fmt.Sprintf("n=%d", v)
	}
	return out
}

// projectionEntries renders a projection's read model as plRecount does.
func projectionEntries(m *projection.Manager, id string) (map[string]string, error) {
	fields := map[string][]string{projection.ByEventType: {"count"}, "p-count": {"count"},
		projection.ByCategory: {"events", "streams"}, projection.StreamStats: {"events", "firstPosition", "lastPosition", "version"},
		"p-cnt": {"n"}, "p-items": {"qty"}, "p-byk": {"n"}}[id]
	out := map[string]string{}
	q := projection.Query{Limit: 1000}
	for {
		page, err := m.Query(id, q)
		if err != nil {
			return nil, fmt.Errorf("query %s: %w", id, err)
		}
		for _, it := range page.Items {
			v, err := reducer.DecodeObject(it.Value)
			if err != nil {
				return nil, fmt.Errorf("%s %s: %s: %w", id, it.Key, it.Value, err)
			}
			var parts []string
			for _, f := range fields {
				parts = append(parts, fmt.Sprintf("%s=%v", f, v[f]))
			}
			out[it.Key] = strings.Join(parts, " ")
		}
		if !page.More {
			break
		}
		q.After = page.Next
	}
	if id == "p-count" {
		in, err := m.Get(id)
		if err != nil {
			return nil, err
		}
		var s struct{ Total uint64 }
		if err := json.Unmarshal(in.State, &s); err != nil {
			return nil, fmt.Errorf("%s state %s: %w", id, in.State, err)
		}
		if s.Total != in.EventsProcessed {
			return nil, fmt.Errorf("%s: total %d, eventsProcessed %d", id, s.Total, in.EventsProcessed)
		}
		out["$total"] = strconv.FormatUint(s.Total, 10)
	}
	return out, nil
}

func diffMaps(got, want map[string]string) string {
	var d []string
	for k, w := range want {
		if g, ok := got[k]; !ok {
			d = append(d, fmt.Sprintf("%s missing (want %s)", k, w))
		} else if g != w {
			d = append(d, fmt.Sprintf("%s: %s, want %s", k, g, w))
		}
	}
	for k, g := range got {
		if _, ok := want[k]; !ok {
			d = append(d, fmt.Sprintf("%s unexpected (%s)", k, g))
		}
	}
	slices.Sort(d)
	if len(d) > 6 {
		d = append(d[:6], fmt.Sprintf("… %d more", len(d)-6))
	}
	return strings.Join(d, "; ")
}

// checkSnapshots replays every user stream from its snapshots and from
// version 0 at each snapshot's version and at its head; the states must be
// equal. It returns how many replays started from a snapshot and how many
// stored snapshots were passed over as stale.
func checkSnapshots(ctx context.Context, st *engine.Store, ss *subsystems, all []engine.Event) (used, retired int, err error) {
	heads := map[string]uint64{}
	for _, e := range all {
		if !engine.IsSystemStream(e.StreamID) {
			heads[e.StreamID] = e.Version
		}
	}
	for stream, head := range heads {
		red := ss.reducers.ForStream(stream)
		list, err := ss.snapshots.List(stream)
		if err != nil {
			return 0, 0, fmt.Errorf("snapshots of %s: %w", stream, err)
		}
		versions := map[uint64]bool{head: true}
		for _, s := range list {
			versions[s.Version] = true
			stale := s.Reducer != red.Name() || s.ReducerRevision != red.Revision()
			for typ, rev := range s.Types {
				stale = stale || ss.schemas.Revision(typ) != rev
			}
			if stale {
				retired++
			}
		}
		for v := range versions {
			a, err := ss.snapshots.Replay(ctx, stream, v, red, true, nil)
			if err != nil {
				return 0, 0, fmt.Errorf("replay of %s to %d from a snapshot: %w", stream, v, err)
			}
			b, err := reducer.Replay(st, stream, nil, 0, v, red, nil)
			if err != nil {
				return 0, 0, fmt.Errorf("replay of %s to %d: %w", stream, v, err)
			}
			ja, err1 := reducer.EncodeState(nil, a.State)
			jb, err2 := reducer.EncodeState(nil, b.State)
			if err1 != nil || err2 != nil {
				return 0, 0, fmt.Errorf("encoding states of %s: %v %v", stream, err1, err2)
			}
			if string(ja) != string(jb) {
				return 0, 0, fmt.Errorf("%s at %d: from snapshot %d %s, from version 0 %s", stream, v, a.SnapshotVersion, ja, jb)
			}
			if a.SnapshotVersion > 0 {
				used++
			}
		}
	}
	return used, retired, nil
}
