package command

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/eventd/eventd/engine"
	"github.com/eventd/eventd/engine/reducer"
)

// Defaults of Options.
const (
	DefaultMaxRetries = 5
	DefaultWorkers    = 4
)

// Service runs commands. Create it with Open; every method is safe for
// concurrent use.
type Service struct {
	log      Log
	reducers *reducer.Registry
	opts     Options
	logger   *slog.Logger

	defs  definitions
	table *table
	locks *aggregateLocks
	queue *queue

	closed atomic.Bool
	ctx    context.Context // ends at Close: async workers stop taking work
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// retries counts re-decisions after a conflicting append, exhausted
	// the commands failed after MaxRetries of them (tests; later /metrics).
	retries, exhausted atomic.Uint64
}

// Open loads the command handlers ($command-handlers) and the command
// table ($commands), queues the async commands that were accepted but not
// finished (they were interrupted by a crash or a shutdown) and starts the
// async workers.
func Open(log Log, reducers *reducer.Registry, opts Options) (*Service, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	switch {
	case opts.MaxRetries == 0:
		opts.MaxRetries = DefaultMaxRetries
	case opts.MaxRetries < 0:
		opts.MaxRetries = 0
	}
	if opts.Workers <= 0 {
		opts.Workers = DefaultWorkers
	}
	if reducers == nil {
		reducers = reducer.NewRegistry()
	}
	s := &Service{log: log, reducers: reducers, opts: opts, logger: opts.Logger,
		table: newTable(), locks: newAggregateLocks(), queue: newQueue()}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if err := s.loadDefinitions(); err != nil {
		return nil, err
	}
	pending, err := s.loadCommands()
	if err != nil {
		return nil, err
	}
	if err := s.requeue(pending); err != nil {
		return nil, err
	}
	for range opts.Workers {
		s.wg.Add(1)
		go s.worker()
	}
	return s, nil
}

// Close stops the async workers: each finishes the command it is writing;
// queued ones stay pending in $commands and run after the next Open.
// Submit and PutHandler fail with ErrClosed afterwards. Close does not
// close the store.
func (s *Service) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	s.cancel()
	s.wg.Wait()
	return nil
}

// Total counts the commands the service knows: every command with a
// record in $commands (accepted, completed or failed). Requests refused
// before anything was written are not commands.
func (s *Service) Total() uint64 { return s.table.recorded.Load() }

// Status returns a command's status (with its Result when completed, its
// Failure when failed). Errors: ErrNotFound, read errors.
func (s *Service) Status(id string) (Outcome, error) {
	e, known, f := s.table.get(id)
	if f != nil {
		return f.outcome(id), nil
	}
	if !known {
		return Outcome{}, ErrNotFound
	}
	st, err := s.readRecord(e.ver())
	if err != nil {
		return Outcome{}, err
	}
	if st.rec.ID != id {
		return Outcome{}, collision(id, st.rec.ID)
	}
	return s.outcomeOf(st, e.status())
}

// collision is two command ids with one table key (see table): refused
// rather than answered with another command's status.
func collision(id, other string) error {
	return fmt.Errorf("command: ids %s and %s share a table key; send it with another commandId", quoteShort(id), quoteShort(other))
}

// outcome is the status of a command in flight: an async one not yet
// accepted is pending; a sync one is being processed.
func (f *flight) outcome(id string) Outcome {
	st := Processing
	if f.async {
		st = Pending
	}
	return Outcome{Command: Command{ID: id, Type: f.typ, Status: st, CreatedAt: f.createdAt}}
}

// loadCommands folds $commands into the table and returns the versions of
// the CommandAccepted records of commands that never finished, oldest
// first.
func (s *Service) loadCommands() ([]uint64, error) {
	var head struct {
		ID string `json:"id"`
	}
	err := readPaged(s.log, commandsStream, func(e *engine.Event) error {
		var st Status
		switch e.Type {
		case evAccepted:
			st = Pending
		case evCompleted:
			st = Completed
		case evFailed:
			st = Failed
		default:
			s.logger.Warn("commands: unknown event type in "+commandsStream+", skipped", "type", e.Type, "position", e.Position)
			return nil
		}
		id, ok := recordID(e.Data)
		if !ok {
			head.ID = ""
			if err := json.Unmarshal(e.Data, &head); err != nil || head.ID == "" {
				return fmt.Errorf("command: %s version %d (position %d) does not decode: %v", commandsStream, e.Version, e.Position, err)
			}
			id = head.ID
		}
		s.table.load(id, e.Version, st)
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.table.recorded.Store(uint64(len(s.table.m)))
	var pending []uint64
	for _, e := range s.table.m {
		if !e.status().Final() {
			pending = append(pending, e.ver())
		}
	}
	slices.Sort(pending)
	return pending, nil
}

// recordID reads the id of a record as appendRecord writes it — first,
// as {"id":"…" — when it needs no unescaping (ok false: decode it in
// full). Open reads every record, and this is the part it needs.
func recordID(b []byte) (string, bool) {
	const prefix = `{"id":"`
	if !bytes.HasPrefix(b, []byte(prefix)) {
		return "", false
	}
	rest := b[len(prefix):]
	end := bytes.IndexByte(rest, '"')
	if end <= 0 || bytes.IndexByte(rest[:end], '\\') >= 0 {
		return "", false
	}
	return string(rest[:end]), true
}

// requeue queues the unfinished async commands in the order they were
// accepted, each behind its aggregate as it was planned then.
func (s *Service) requeue(pending []uint64) error {
	for _, ver := range pending {
		st, err := s.readRecord(ver)
		if err != nil {
			return err
		}
		j, err := s.jobOf(st)
		if err != nil {
			return err
		}
		q := queued{id: j.req.ID, ver: ver}
		if h, ok := s.handler(j.req.Type); ok {
			q.stream, _ = h.plan(j.data) // a broken plan fails when it runs
		}
		s.queue.pushPlaced(q, s.locks)
	}
	if len(pending) > 0 {
		s.logger.Info("commands: async commands interrupted before they finished will run now", "count", len(pending))
	}
	return nil
}
