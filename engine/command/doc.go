// Package command is the write side of CQRS: a command (CreateUser, or a
// type registered at run time) is checked, decided against the current
// state of its aggregate (the stream it writes) and written as events,
// together with its status, atomically. docs/api.md "POST /api/commands"
// and "Command handlers" are the contract.
//
// # Lifecycle
//
//	svc, err := command.Open(store, reducers, command.Options{})
//	out, err := svc.Submit(ctx, command.Request{Type: "CreateUser", Data: []byte(`{"userId":"u1","email":"a@x","name":"Ann"}`)})
//	out, err = svc.Status(out.Command.ID)
//	h, created, err := svc.PutHandler(ctx, "Deposit", command.HandlerDef{EventType: "Deposited",
//		StreamIDFrom: "commandData.accountId", Expect: command.ExpectExisting, Data: "commandData.deposit"})
//	err = svc.Close() // before the store closes
//
// A command goes: input checks (*InputError, nothing written) → identity
// (id + fingerprint: a resend answers the first outcome) → plan (the
// handler's stateless checks; names the aggregate) → the aggregate's turn
// (aggregateLocks) → decide (version, and state via reducer.Replay when
// the handler looks at it; the client's expectedVersion; Expect) → one
// engine.AppendMulti of the event (exact expected version) and
// CommandCompleted ($commands, Any). A broken rule or a mismatched
// expectedVersion appends CommandFailed instead; a conflicting plain
// append to the stream makes it decide again (Options.MaxRetries).
//
// # Concurrency
//
// Every method is safe for concurrent use. Commands on one aggregate are
// serialized inside the service, first come first served (locks.go), so
// they never conflict with each other; commands on different aggregates
// run in parallel and share the writer's group commits. Identical sends
// of one command id while it runs wait for it (table.go). Registered
// handlers are swapped whole (atomic pointer): a command uses the
// definition it looked up. Async commands are run by Options.Workers
// goroutines, in acceptance order per aggregate (async.go).
//
// # Recovery
//
// The log is the only truth. Open folds $command-handlers into the
// registered handlers and $commands into the command table (paging
// through both). An async command whose latest record is CommandAccepted
// was interrupted (crash, shutdown, storage failure): it is queued again
// and runs once — its events and CommandCompleted are one atomic append,
// so it either ran (and is not pending) or left no trace. A sync command
// interrupted before its append left nothing: a resend runs it.
//
// # $commands events
//
// Every event's data carries the command's identity:
//
//	{"id", "commandType", "fingerprint": 32 hex digits, "createdAt": API time, "async"?: true, ...}
//
// fingerprint is the first 128 bits of SHA-256 over commandType, a NUL
// byte and commandData in canonical JSON (ident.go). The types:
//
//	CommandAccepted   async, before it runs: + "commandData", "metadata"?,
//	                  "expected"? (engine.ExpectedVersion), "expectedVersion"? (as the client sent it)
//	CommandCompleted  + "result": {"streamId", "firstVersion", "version", "eventTypes": [...]};
//	                  written in the same AppendMulti as those events, right after them
//	CommandFailed     + "error" (the reason), "httpStatus", "code", "details"? (the answer it got)
//
// processedAt is the timestamp of the CommandCompleted or CommandFailed
// event itself (for a completed command, that of its events too). Event
// ids, positions and the answers to resends are read back from the log.
//
// # $command-handlers events
//
//	CommandHandlerRegistered {"commandType", "eventType", "streamIdFrom", "expect", "data"}
//
// appended (exact expected version) before the definition takes effect;
// the latest one of a command type wins. updatedAt is its timestamp.
//
// # Memory
//
// The command table keeps every recorded command as 24 bytes of map slot
// (a 128-bit key of its id, its latest record's version and its status;
// no pointers), 30–55 MB per million commands with the map's overhead;
// answers are read back from the log (table.go). Open folds $commands at
// under 1 µs per command.
//
// # Domain events
//
// A command writes one event: the handler's event type; as data
// commandData itself (built-ins, "data": "commandData": the bytes the
// client sent) or the object at "commandData.<path>" (re-encoded, keys
// sorted); as metadata the command's metadata with "commandId" set.
//
// # Files
//
//	service.go      Open, Close, Total, Status; folding $commands at Open
//	submit.go       Submit: input checks, identity, accepting async commands
//	run.go          deciding and writing (retries), failures and their answers
//	handlers.go     handler definitions: built-ins, rules, plan and decide
//	definitions.go  registered handlers: PutHandler, Handlers, $command-handlers
//	records.go      $commands records: encoding, reading back, outcomes
//	table.go        the command table; locks.go per-aggregate turns
//	async.go        the async queue and its workers; ident.go ids, fingerprints
package command

import (
	"context"
	"log/slog"

	"github.com/eventd/eventd/engine"
	"github.com/eventd/eventd/engine/reducer"
)

// Log is what commands need of the store; *engine.Store has it.
type Log interface {
	Append(ctx context.Context, streamID string, expected engine.ExpectedVersion, events []engine.Proposed) (engine.AppendResult, error)
	AppendMulti(ctx context.Context, parts []engine.StreamAppend) ([]engine.AppendResult, error)
	ReadStreamFunc(streamID string, from uint64, dir engine.Direction, limit int, fn func(*engine.Event) error) (next, head uint64, err error)
	Stream(id string) (engine.StreamInfo, bool)
}

// Options configure the command service. The zero value is usable.
type Options struct {
	Logger *slog.Logger // default slog.Default()
	// MaxRetries bounds the re-decisions after a conflicting append
	// (0: DefaultMaxRetries; negative: none).
	MaxRetries int
	// Workers is the number of goroutines running async commands (0:
	// DefaultWorkers).
	Workers int
	// Fold computes an aggregate's state at version to with red — the
	// wiring passes engine/snapshot's replay (newest usable snapshot, then
	// the tail). nil: reducer.Replay from version 0.
	Fold func(ctx context.Context, stream string, to uint64, red reducer.Reducer) (reducer.State, error)
}
