// Package projection is the read side of CQRS: projections turn the log
// into read models, and queries read them.
//
// Kinds: count projections count matching events by type; state
// projections fold matching events into one reducer state per key (the
// stream id, or a field of eventData); the system projections
// $by-event-type, $by-category and $stream-stats always exist and see
// every event, system streams included (user projections never do).
// Every read model is a set of entries, key → JSON value (a count
// projection's keys are its event types), which queries read one by one
// (Lookup) or in key order (Query, with `where` filters on top-level
// fields matched in the raw JSON).
//
// # Lifecycle
//
//	db, err := derived.Open(engine.Layout{Dir: dir}.Projections(), nil, logger)
//	m, err := projection.Open(db, store, registry, projection.Options{Logger: logger})
//	info, created, err := m.Create(ctx, projection.Definition{Name: "users", Kind: projection.KindState, StreamPrefix: "user-"})
//	err = m.Wait(ctx, info.ID, pos)         // read your writes
//	en, err := m.Lookup(info.ID, "user-1")  // one entry
//	page, err := m.Query(info.ID, projection.Query{Limit: 100, Where: []projection.Cond{{Field: "name", Value: "Ann"}}})
//	err = m.Close()                         // before db.Close and the store's Close
//
// # Concurrency
//
// Every exported method is safe for concurrent use. Each running
// projection has one runner goroutine, the only one that changes its read
// model: it reads $all from its position (ReadAllFunc), applies the
// matching events, moves its position past the others too (the read's
// next/head), and when caught up waits on the store's HeadMoved, never
// polling. Positions are gap-free and commit-ordered, so it never skips or
// repeats an event.
//
// Queries read the model under its table's lock, which the runner holds
// while it changes an entry, so they see every event processed, whether
// its entry is changed and unflushed, being flushed, or only in pebble.
// The position a query reports is loaded before the model is read: the
// model holds at least every event up to it. Queries waiting for a
// position wait on the projection's engine.Notifier, notified as the
// runner advances.
//
// Definition changes (Create, Pause, Resume, Reset, Delete) are serialized
// by one mutex: each is journaled, then takes effect, before the next.
//
// # Durability and recovery
//
// Definitions are events of the system stream $projections
// (ProjectionCreated with the whole definition and its start position,
// ProjectionPaused, ProjectionResumed, ProjectionReset, ProjectionDeleted),
// appended before the change takes effect and folded at Open. The position of a
// projection's Created or latest Reset event is the generation of its
// read model; system projections are never journaled except when reset.
//
// Read models are derived data in pebble (shared with other subsystems,
// which use other key prefixes). Every FlushEvents applied events or
// FlushInterval (when something changed), at a pause and at Close, the
// runner flushes: it hands the entries changed since the last flush —
// never the whole model, so a flush costs what changed — and the
// checkpoint (generation, position, counters, error) to a goroutine that
// encodes them into one batch and commits it without fsync, while the
// runner goes on. Batches are committed one at a time, in order; an entry
// stays in memory until the batch holding its latest value is committed.
// A batch is atomic, and after a crash pebble holds a prefix of the
// committed batches, each one a model and the checkpoint that describes
// it exactly: the projection resumes from an older checkpoint and applies
// the following events once more — never one twice, never one skipped.
// Close syncs pebble once.
//
// Open reconciles models with definitions: a model whose checkpoint is of
// another generation (a crash between journaling a Create or Reset and
// wiping the old model), of a projection no longer defined (a crash during
// Delete), unreadable, or ahead of the log (its tail lost under a relaxed
// fsync policy) is wiped and rebuilt.
//
// An event that cannot be applied (an error wrapping reducer.ErrApply, or
// one that cannot be upcast) stops its projection with status error; the
// reason and the checkpoint are persisted, so it stays in error across
// restarts until a reset. The reducer may have changed the state of that
// event's key before failing: the entry shows it until the reset rebuilds
// the model. A storage error while reading the log is retried with
// backoff; one while writing the model stops the projection in error
// until a restart or reset. System projections can be reset, never paused
// or deleted.
//
// # Key layout (pebble)
//
//	p/m/<id>                   the checkpoint of projection <id>: JSON
//	                           {"v":1, "generation", "position", "events", "keys",
//	                            "failed"?, "rebuildUntil"?, "createdAt", "updatedAt"}
//	p/d/<id> 0x00 <key>        one entry of its read model: the value's JSON
//	─┬─ ─┬── ─┬── ─┬── ──┬──
//	 │   │    │    │     └ the entry's key: stream id, keyBy value, event type or category
//	 │   │    │    └ ends the id (ids never hold 0x00)
//	 │   │    └ projection id
//	 │   └ m: checkpoints, d: entries
//	 └ this package's prefix
//
// A projection's entries are the range [p/d/<id> 0x00, p/d/<id> 0x01): one
// range deletion removes them, and an iterator lists them in key order.
//
// # Files
//
//	manager.go    Options, Manager, Open (reconciliation), Close
//	admin.go      Create, Pause, Resume, Reset, Delete; definition.go their input
//	journal.go    the $projections events
//	proj.go       one projection; runner.go its goroutine and flushes
//	model.go      the kinds over table.go (entries in memory over pebble) and table_read.go
//	query.go      Wait, Lookup, Query; info.go Get, List; where.go the filters
//	codec.go, jsonraw.go  values to and from JSON; keys.go the layout
//
// The pebble database itself, and what happens when it cannot be written,
// is engine/derived.
package projection
