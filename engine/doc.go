// Package engine is the event store: it ties the segment log (package
// segment) and the in-memory stream index (package index) together behind
// Append, reads, $all and subscriptions.
//
// # Lifecycle
//
//	s, err := engine.Open("data", engine.Options{})
//	res, err := s.Append(ctx, "user-1", engine.NoStream, []engine.Proposed{{Type: "UserCreated", Data: []byte(`{}`)}})
//	page, err := s.ReadStream("user-1", 0, engine.Forward, 100)
//	sub := s.Subscribe(0, engine.Filter{})
//	evs, err := sub.Next(ctx, 1000)
//	err = s.Close()
//
// # Concurrency
//
// Every exported method is safe for concurrent use. Appends are queued and
// committed in batches by the holder of one commit token (leader.go): an
// appending goroutine that finds nobody committing commits the queue itself
// (no hand-off to another goroutine and back), and while it does, later
// appends queue up; it then hands the token to the head of the queue, whose
// caller commits the next batch (group commit). A background goroutine
// takes the same token only for interval fsyncs and probes of a full file
// system. The commit code (writer.go) is the only place that assigns
// positions and versions, checks expected versions and event ids, writes
// and fsyncs. Readers never take the writer's lock: they read the index
// under its read lock and the log with pread, and see nothing past the
// visible head, which the holder publishes only after the batch is durable
// per the fsync policy.
//
// # Recovery
//
// Open takes the data dir's LOCK, opens the log (which cuts a torn tail: the
// batch being written at a crash was never acknowledged), loads the index
// checkpoint if it is valid and consistent with the log, and replays the log
// after it (or all of it) into the index and the dedupe table. A checkpoint
// that is ahead of the log or does not match it is deleted before any append
// is accepted, so it can never describe events that were later rewritten.
// Sealed segments are then scrubbed in the background; corruption found there
// or by a read is reported by Problems, and a damaged event is never returned.
//
// While running, a failed fsync is sticky (appends refused until restart),
// but a write that provably wrote nothing is not: a segment that could not
// be created fails only its batch, and a full file system refuses appends
// until a probe finds room again (unavailable.go, docs/failures.md).
//
// # Input rules
//
// Every Append is checked against one set of rules (validate.go): stream-id
// and event-type syntax, event-id and size limits, the number of events.
// The server calls the same functions while parsing and maps the errors
// (*InputError, matching ErrInvalidStreamID, ErrInvalidEventType,
// ErrEventTooLarge or ErrInvalidEvent) to codes, so nothing a subsystem
// appends can break a rule the API enforces.
//
// # Subsystems
//
// Reducers, commands, projections, snapshots and schemas live in
// engine/<name> and talk to the store through small interfaces of their
// own (Append, ReadStreamFunc, ReadAllFunc, Head, HeadMoved, WaitHead);
// engine never imports them. Notifier is the wake-up primitive they share
// (read-your-writes waits on it).
//
// # Files
//
//	store.go      Open, Close, status (Head, Stats, Problems), stream listing
//	append.go     Append: checks, pooled requests, queueing
//	leader.go     the commit token: who commits, hand-off, background work
//	writer.go     committing a batch: validate, write, fsync, publish;
//	              unavailable.go: writes that wrote nothing, the full-disk probe
//	decide.go     expected versions, event-id dedupe, positions and versions
//	validate.go   the input rules
//	read.go       stream and $all reads
//	subscribe.go  subscriptions
//	notify.go     Notifier, HeadMoved, WaitHead
//	checkpoint.go index checkpoint and recovery; dedupe.go the dedupe table
//	layout.go     the data directory's names
//
// # On disk (layout.go)
//
//	<dir>/LOCK              flock: one process per data dir
//	<dir>/log/*.seg         the segment log (docs/format.md)
//	<dir>/index/checkpoint  index checkpoint + dedupe table, checksummed
//	<dir>/projections/      derived data of the subsystems (rebuildable)
package engine
