// Package snapshot keeps aggregate snapshots — a stream's reducer state
// at a version — so that replay stays fast on long streams, and replays
// from them (Replay: the newest usable snapshot at or below the target,
// then engine/reducer.Replay over the rest).
//
// A snapshot is never wrong, only unused: each records the reducer's name
// and revision and the upcaster-chain revision of every event type folded
// into it, and is used only while all of them are unchanged; a damaged
// one (checksum, framing) is skipped with a warning. The log stays the
// truth: a replay from a snapshot equals a replay from version 0 (a
// property test holds it to that over random streams, reducers and
// snapshot points).
//
// # Lifecycle
//
//	snaps, err := snapshot.Open(db, store, reducers, schemas, snapshot.Options{})
//	res, err := snaps.Replay(ctx, stream, to, reducer, true, each)
//	s, err := snaps.Take(ctx, stream, version)        // computed (server)
//	s, err := snaps.Put(ctx, stream, version, state)  // supplied (client)
//	list, err := snaps.List(stream)
//	err = snaps.Close()
//
// Automatic snapshots are taken in the background, never on the append
// path (auto.go): every Options.Every versions of a stream, and after a
// replay slower than Options.After. The last Options.Retain taken are kept
// per stream and reducer.
//
// # Storage
//
// In the derived-data store (pebble, shared with projections, under the
// prefix "s/"; key layout in store.go, value format in format.go): durable
// (synced writes), checksummed (xxh64), compressed (s2 by default: on real
// states of 100 KiB–10 MiB it stores 3.8–4x smaller and decodes at ~0.8–1.3
// GB/s; zstd stores 6.2–6.5x smaller but decodes 2x slower, and replay
// start-up is what snapshots are for — BENCHMARKS.md has the figures).
//
// # Concurrency
//
// Every method is safe for concurrent use. Writes (put and retention) are
// serialized; reads use pebble iterators.
package snapshot
