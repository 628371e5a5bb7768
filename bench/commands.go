package bench

import (
	"context"
	"fmt"
)

// --mode commands: a phase of synchronous CreateUser commands, then a
// phase of single-event appends with the same workers and bound, so that
// the two rates are measured side by side (Report.CommandsPerAppend).
//
// The phases run one after the other rather than interleaved: each then
// has the daemon to itself, so each rate is the daemon's capacity for that
// request, and the appends' group commits do not carry the commands' (or
// the other way round); the price is that the two phases see the shared
// machine at slightly different times.

var pathCommands = []byte("/api/commands")

// commandOp sends POST /api/commands, a CreateUser of a new user
// bench-<runid>-w<k>-<n> each time; 201 is a success (one command).
type commandOp struct{}

func (commandOp) prepare(r *runner, w *worker) (string, []byte, []byte, bool) {
	if r.claim(1) == 0 {
		return "", nil, nil, false
	}
	w.seq++
	w.body = appendCreateUser(w.body[:0], w.userPrefix, w.seq, r.cfg.Size)
	return "POST", pathCommands, w.body, true
}

func (commandOp) done(w *worker, status int, resp []byte) (int, bool) {
	if status != 201 {
		return 0, false
	}
	return 1, true
}

func (r *runner) runCommands(ctx context.Context, rep *Report) error {
	b := bound{duration: r.cfg.Duration, events: r.cfg.Events}
	cp, err := r.runPhase(ctx, "commands", b, commandOp{})
	if err != nil {
		return err
	}
	cp.Note = fmt.Sprintf("POST /api/commands CreateUser, sync, 201 expected, a new user each time, commandData padded to %d bytes; "+
		"each command appends its UserCreated and its $commands status in one atomic append", r.cfg.Size)
	rep.Phases = append(rep.Phases, cp)
	if ctx.Err() != nil {
		return nil
	}
	ap, err := r.runPhase(ctx, "append", b, &appendOp{batch: 1, single: true})
	if err != nil {
		return err
	}
	ap.Note = fmt.Sprintf("POST /api/events, one event of %d bytes of eventData, exact expectedVersion", len(r.bodies.data))
	rep.Phases = append(rep.Phases, ap)
	if ap.EventsPerSec > 0 {
		rep.CommandsPerAppend = cp.EventsPerSec / ap.EventsPerSec
	}
	return nil
}
