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
//     that was there when the phase began, and starts again.
//
// Every phase is bounded by Duration, or by an event count and MaxDuration.
// The generator stays lean so that it measures the server: bodies are
// appended into reused buffers, responses are read into reused buffers and
// only the status code is looked at (plus a byte search for a count or a
// version where one is needed), and the default client is a minimal
// HTTP/1.1 keep-alive client over net.Conn. Latencies of successful
// requests go into a per-worker log-linear Histogram, merged at the end.
//
// The package also holds `go test -bench` suites that run the real server
// in-process.
//
// Concurrency: Run may be called from one goroutine at a time per Config;
// a Histogram belongs to one goroutine.
package bench
