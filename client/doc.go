// Package client is a typed Go client for eventd's REST API (docs/api.md).
//
// Create one Client per daemon and share it; every method takes a context,
// which bounds the call including its retries:
//
//	c, err := client.New("http://127.0.0.1:2113", client.WithAPIKey(key))
//	res, err := c.Append(ctx, "order-42", "OrderPlaced", order,
//		client.WithExpectedVersion(client.NoStream), client.WithEventID(msgID))
//
// # Coverage
//
// Events: Append, AppendBatch, ReadStream and ReadAll (pages with Next),
// StreamEvents and AllEvents (iterators over every page, either direction),
// Stream, ListStreams and Streams, Replay. Commands: SendCommand,
// SendCommandAsync, CommandStatus, WaitCommand, PutCommandHandler,
// GetCommandHandler, ListCommandHandlers. Read side: Query, QueryList and
// QueryItems (with MinPosition for read-your-writes), CreateProjection,
// ListProjections, GetProjection, PauseProjection, ResumeProjection,
// ResetProjection, DeleteProjection. State: CreateSnapshot, UploadSnapshot,
// ListSnapshots. Registries: PutSchema, GetSchema, ListSchemas, PutReducer,
// GetReducer, ListReducers. Operations: Health, Metrics, OpenAPI.
// Subscriptions: Subscribe and SubscribeStream.
//
// # Errors
//
// An error answer of the daemon is an *APIError (Status, Code, Message,
// Details). Every API code has a sentinel for errors.Is:
//
//	_, err := c.Append(ctx, id, "Paid", data, client.WithExpectedVersion(client.Exact(3)))
//	if errors.Is(err, client.ErrWrongExpectedVersion) {
//		v, _ := client.CurrentVersion(err) // the stream's version now
//	}
//
// APIError.VersionConflict and APIError.SchemaViolation decode the details
// of those two codes. WaitCommand reports a failed command as a
// *CommandFailedError (errors.Is(err, ErrCommandFailed)).
//
// # Retries and idempotency
//
// Requests are retried (RetryPolicy: bounded attempts, capped exponential
// backoff with jitter) only after a network error or a 503, and only when
// sending them twice cannot do harm: reads, replays, PUTs, appends whose
// events all carry an event id, commands that carry a command id, and
// projection creates with an explicit id. A 4xx is never retried. The
// daemon answers a repeated append with the first result and
// "duplicate": true (AppendResult.Duplicate), and a repeated command with
// its first outcome. WithAutoIDs lets the client generate the ids (UUIDv7)
// so that every append and command is retryable; its doc explains what
// that does and does not protect against.
//
// # Paging
//
// Page types (StreamPage, AllPage, StreamList, QueryPage) have HasNext and
// Next. The iterator methods return iter.Seq2[T, error] over all pages:
//
//	for ev, err := range c.StreamEvents(ctx, "order-42", client.ReadStreamOptions{Direction: client.Backward}) {
//		if err != nil {
//			return err
//		}
//		fmt.Println(ev.Version, ev.EventType)
//	}
//
// # Subscriptions
//
// Subscribe ($all) and SubscribeStream (one stream) return a Subscription
// whose Events channel delivers events over Server-Sent Events in position
// order. When the connection drops, the daemon restarts or sends its
// "event: error" message, the subscription reconnects with backoff and
// resumes after the last delivered position (Last-Event-ID), dropping any
// event at or below it, so no event is skipped or delivered twice. It ends
// when its context ends or Close is called (Err then tells why), or on a
// non-transient error answer. The client sends the API key in the
// Authorization header; the ?access_token= form of the SSE routes is for
// browsers and is not used.
package client
