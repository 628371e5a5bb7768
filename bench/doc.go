// Package bench measures eventd over its HTTP API.
//
// The load generator (Run) drives a daemon at a loopback URL with
// Concurrency workers, each owning one keep-alive connection and Streams
// streams named bench-<runid>-w<k>-s<j>. A worker sends one request at a
// time:
//
//   - append mode (default): POST /api/events (Batch 1) or
//     POST /api/streams/{id}/events (Batch > 1), round-robin over its
//     streams, always with the exact expectedVersion it knows, so a 409 is
//     an error, never a silent overwrite;
//   - read mode: optionally seeds Seed events, then five timed phases:
//     stream pages (GET /api/events/{id}?fromVersion=&limit=), $all pages
//     (GET /api/all?fromPosition=&limit=), replay
//     (POST /api/events/{id}/replay), and SSE catch-up of $all
//     (GET /api/subscribe?fromPosition=0) and of streams
//     (GET /api/streams/{id}/subscribe?fromVersion=0): each worker
//     subscribes, counts id-carrying messages until it has every event
//     that was there when the phase began, and starts again;
//   - commands mode: sync CreateUser commands (POST /api/commands, user
//     bench-<runid>-w<k>-<n>, a new one each time), then single-event
//     appends with the same workers and bound (commands.go);
//   - projection mode: seeding, catch-up of a count (and a state)
//     projection from the beginning, then single-event appends with lag
//     samples beside them (projection.go);
//   - ryw mode: append (or command) then read it back with
//     GET /api/queries/{id}?key=&minPosition= on a state projection, timed
//     as a pair (ryw.go);
//   - query mode: key lookups and where lists over seeded state-projection
//     read models (query.go).
//
// In append mode, Schema registers a JSON Schema of 10 typed fields for an
// event type of the run's own (BenchTyped-<runid>) and sends eventData that
// matches it; SchemaFields sends the same bodies under the same kind of
// type without a schema, so the two runs differ only by validation.
// Projections a run creates are deleted at its end.
//
// Every phase is bounded by Duration, or by an event count and MaxDuration.
// The generator stays lean so that it measures the server: bodies are
// appended into reused buffers, responses are read into reused buffers and
// only the status code is looked at (plus a byte search for a count, a
// version or a position where one is needed), and the default client is a minimal
// HTTP/1.1 keep-alive client over net.Conn. Latencies of successful
// requests go into a per-worker log-linear Histogram, merged at the end.
//
// The package also holds `go test -bench` suites that run the real server
// in-process.
//
// Concurrency: Run may be called from one goroutine at a time per Config;
// a Histogram belongs to one goroutine.
package bench
