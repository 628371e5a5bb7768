package engine

import (
	"context"
	"errors"
)

// TEMPORARY SKELETON: signatures are final, bodies are being written.

var errTODO = errors.New("engine: not implemented yet")

// Store is an open event store. All methods are safe for concurrent use.
type Store struct{}

// Open opens (creating if needed) the store in dir and recovers it.
func Open(dir string, opts Options) (*Store, error) { return nil, errTODO }

// Close stops the writer (failing appends still queued with ErrClosed),
// fsyncs, writes an index checkpoint and releases the lock.
func (s *Store) Close() error { return errTODO }

// Append writes events to streamID atomically, after checking expected.
// It returns once the batch is durable per the fsync policy.
// Errors: *WrongExpectedVersionError, ErrDuplicateEvent, ErrInvalidStreamID,
// ErrInvalidEvent, *FailedError, ErrClosed, ctx.Err() (only while still queued).
func (s *Store) Append(ctx context.Context, streamID string, expected ExpectedVersion, events []Proposed) (AppendResult, error) {
	return AppendResult{}, errTODO
}

// ReadStream reads up to limit events of a stream. Forward: versions >
// from, oldest first. Backward: versions < from, newest first (from 0 means
// from the end). A stream that does not exist gives an empty page.
func (s *Store) ReadStream(streamID string, from uint64, dir Direction, limit int) (Page, error) {
	return Page{}, errTODO
}

// ReadAll reads up to limit events of the global log matching f. Forward:
// positions > from. Backward: positions < from (0: from the head).
func (s *Store) ReadAll(from uint64, dir Direction, limit int, f Filter) (Page, error) {
	return Page{}, errTODO
}

// Stream returns one stream's metadata.
func (s *Store) Stream(id string) (StreamInfo, bool) { return StreamInfo{}, false }

// ListStreams lists streams with the prefix whose id is > after, in id order,
// at most limit; more reports whether further streams follow.
func (s *Store) ListStreams(prefix, after string, limit int) (streams []StreamInfo, more bool) {
	return nil, false
}

// Head returns the visible (durable) head position: the number of events.
func (s *Store) Head() uint64 { return 0 }

// Stats returns counters for /health and /metrics.
func (s *Store) Stats() Stats { return Stats{} }

// Err returns the sticky write/fsync failure (a *FailedError), or nil.
func (s *Store) Err() error { return nil }

// Problems lists what is wrong: the sticky failure and any corruption found
// by the scrub or by reads (file and offset). Empty when healthy.
func (s *Store) Problems() []string { return nil }

// Degraded reports corruption found after start (reads of damaged events fail).
func (s *Store) Degraded() bool { return false }

// Policy returns the fsync policy as /health shows it: "always",
// "interval:10ms" or "never".
func (s *Store) Policy() string { return "" }

// Subscription follows $all (or one stream) from a start point: catch-up
// from disk, then live, never skipping or repeating. It holds no events in
// memory between calls: a slow reader simply reads from disk.
type Subscription struct{}

// Subscribe follows $all from position from (exclusive) with a filter.
func (s *Store) Subscribe(from uint64, f Filter) *Subscription { return &Subscription{} }

// SubscribeStream follows one stream from fromVersion (exclusive); if
// fromPosition > 0 it wins: the stream's events with position > fromPosition.
func (s *Store) SubscribeStream(streamID string, fromVersion, fromPosition uint64) *Subscription {
	return &Subscription{}
}

// Next blocks until at least one matching event follows the cursor (or ctx
// ends, or the store closes), then returns up to max of them and advances.
func (sub *Subscription) Next(ctx context.Context, max int) ([]Event, error) { return nil, errTODO }

// Close releases the subscription (counted in Stats.Subscribers).
func (sub *Subscription) Close() {}
