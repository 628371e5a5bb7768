package engine

import (
	"log/slog"
	"time"

	"github.com/eventd/eventd/segment/vfs"
)

// Options configure a Store. The zero value is usable: every field has a
// default (see withDefaults).
type Options struct {
	FS              vfs.FS        // nil: the real file system (tests pass a fault-injecting one)
	Fsync           FsyncPolicy   // default FsyncAlways
	FsyncInterval   time.Duration // for FsyncInterval; default 10ms
	SegmentSize     int64         // default 256 MiB
	MaxBatchBytes   int           // a group-commit batch is cut at this many bytes; default 4 MiB
	MaxBatchEvents  int           // … or this many events; default 10,000 (an append holding more is a batch of its own)
	MaxEventSize    int           // data+metadata bytes of one event; default 1 MiB
	DedupeWindow    time.Duration // how long client event ids are remembered; default 10m
	VerifyFull      bool          // check every sealed segment before opening (--verify-on-start=full)
	Repair          bool          // with VerifyFull: cut the log at corruption, keeping a .broken copy
	CheckpointEvery int           // write an index checkpoint after this many new events; default 1,000,000
	Logger          *slog.Logger  // default: slog.Default()
	Observer        Observer      // optional metrics hooks, called by the committing goroutine

	// probeEvery is the first wait before probing a full file system
	// (default 1s, doubling up to probeMaxWait); tests shorten it.
	probeEvery time.Duration
}

// Observer receives the writer's measurements (for /metrics). Calls come
// from whichever goroutine holds the commit token (often an appending
// caller's, leader.go), one at a time, and must not block: every append
// queued behind the batch waits for them.
type Observer interface {
	// Batch is called once per written batch: appends and events in it, the
	// bytes written, and how long the fsync took (0 when none ran).
	Batch(appends, events, bytes int, fsync time.Duration)
}
