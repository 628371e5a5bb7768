// Package index is eventd's in-memory index: which events each stream
// holds, and where every event is in the log.
//
// There are only two things in it:
//
//   - the stream directory: one 64-byte object per stream holding the
//     global positions of its events (Positions[i] is version i+1, so the
//     version is len(Positions)) and the timestamps of its first and last
//     events, reachable from a B-tree (github.com/google/btree) ordered by
//     stream id, for listing by prefix, and from a map, for lookups (a
//     B-tree search costs a cache miss per string comparison: ~1.2 µs vs
//     ~0.24 µs at 100k streams);
//   - the position → Loc table: where each position's record is in the log.
//     A Loc is the segment package's ordinal<<40 | offset, which the index
//     treats as opaque but for one fact: consecutive positions mostly share
//     the Loc's high 32 bits. So it stores those bits once per run of
//     positions and 4 bytes per event (loctable.go). Locate is a binary
//     search over the runs plus an array lookup.
//
// RAM: 8 bytes per position in its stream (plus up to 1/4 growth slack),
// 4 per Loc, plus ~120 bytes and the id per stream: at 10 events per
// stream, ~26-28 bytes per event (BenchmarkMemory measures it).
//
// # Lifecycle
//
// The engine opens the index in recoverIndex and loadCheckpoint
// (engine/checkpoint.go):
//
//	ix, extra, err := index.ReadCheckpoint(data) // data: the checkpoint file
//	if err == nil {
//		// loadCheckpoint's checks: ix.Head() is not past the log's last
//		// position, the record at ix.Locate(ix.Head()) is position
//		// ix.Head() and ix.Stream(its stream id) holds it at its
//		// version, and extra (the dedupe table) decodes
//	}
//	if err != nil {
//		// delete the checkpoint file (if there was one), then:
//		ix = index.New() // rebuilt by scanning the whole log
//	}
//	// replay the log after ix.Head(), Apply-ing each batch
//
// and then, while the store is open:
//
//	ix.Apply(batch)                              // after each durable batch
//	ix.Stream(id); ix.Version(id); ix.Locate(pos); ix.LocateRange(from, n, dst)
//	ix.Ascend(prefix, after, limit, fn); ix.Len(); ix.MemoryBytes()
//	ix.WriteCheckpoint(w, extra)                 // now and then, any goroutine
//
// A checkpoint that disagrees with the log is never trimmed to fit: the
// engine deletes it before any append (a checkpoint ahead of the log would
// describe positions that get written anew) and rebuilds. So recovery never
// truncates the index. TruncateAfter and TruncateAfterFunc are kept for
// replication (a raft follower truncating a divergent suffix of its log
// must truncate the index after the same position); only tests use them
// today.
//
// # Concurrency
//
// All methods are safe for concurrent use under one rule: there is one
// writer. Apply and TruncateAfter(Func) must not run concurrently with each
// other; everything else (Stream, Version, Locate, LocateRange, Ascend,
// Len, Head, MemoryBytes, WriteCheckpoint) may run from any number of
// goroutines at any time.
//
// A sync.RWMutex guards the directory and the Loc table. Readers hold the read
// lock only to copy what they need (a stream's entry is copied out; Ascend
// copies a page at a time and calls fn unlocked). The writer looks streams
// up under the read lock, appends the new positions with no lock, and takes
// the write lock only to publish: field updates, a tree insert for a new
// stream, the Locs and the new head.
//
// That works because positions slices are append-only: the writer never
// writes below the length of a slice header it has published, and
// TruncateAfter clips the capacity so the next append reallocates. A
// Stream's Positions is therefore immutable once returned. Callers must
// treat it as read-only.
//
// WriteCheckpoint takes the write lock only to Clone the tree (copy-on-write
// nodes) and copy the Loc table's slice headers, bumping the checkpoint
// generation (every stream object records the generation it was created
// in). While a checkpoint runs, the writer copies a stream object of an
// older generation before changing it (and puts the copy in the tree and
// the map), so the checkpoint encodes a frozen view at its head while
// appends go on.
//
// # Checkpoint
//
// A checkpoint (format drawn in checkpoint.go) is a header (magic
// "EVDINDEX", version, head, counts), the Loc runs, the low Loc words as a
// raw u32 array, one record per stream in id order (id, version, created
// and updated times, positions as a raw u32 array, u64 past 2^32 events),
// the caller's extra bytes and an xxh64 checksum of it all. ReadCheckpoint
// verifies all of that and every invariant; any mismatch is an error
// wrapping ErrCorruptCheckpoint or ErrCheckpointVersion, and the caller
// then rebuilds the index by scanning the log. The checkpoint covers
// positions 1..Head() of the loaded index: recovery replays the log after
// it, once the engine has checked it against the log (see Lifecycle).
package index
