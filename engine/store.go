package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eventd/eventd/index"
	"github.com/eventd/eventd/segment"
	"github.com/eventd/eventd/segment/vfs"
)

// Size limits of the engine's own (the input rules are in validate.go).
const (
	// MaxEventSizeLimit caps Options.MaxEventSize: one record must fit the
	// format's record limit with room for its other fields.
	MaxEventSizeLimit = segment.MaxRecordSize - 64<<10
	// maxAppendBytes caps one append's encoded size, and maxBatchBytesLimit
	// Options.MaxBatchBytes, so that a frame never reaches the format's
	// frame limit (1 GiB): a too-large append is refused up front instead
	// of failing the write (which would be sticky for everyone).
	maxAppendBytes     = 512 << 20
	maxBatchBytesLimit = 256 << 20
)

// Store is an open event store. All methods are safe for concurrent use.
type Store struct {
	dir    string
	opts   Options
	fs     vfs.FS
	log    *segment.Log
	ix     *index.Index
	logger *slog.Logger
	unlock func() error

	// head is the visible head: every position ≤ head is durable (per the
	// fsync policy) and in the index. Written only by the commit token holder,
	// after the batch's fsync and index.Apply; read by everyone.
	head atomic.Uint64
	// headMoved is closed and replaced whenever head advances.
	headMoved Notifier

	w *writer

	upcaster  atomic.Pointer[Upcaster]  // read path (upcast.go); nil: none
	validator atomic.Pointer[Validator] // append path; nil: none

	failed atomic.Pointer[FailedError] // sticky write/fsync failure
	// full is set while the file system has no room for the log (a
	// Recoverable FailedError): appends are refused until the writer's
	// probe finds room again (unavailable.go). Written by the commit token's holder only.
	full     atomic.Pointer[FailedError]
	probMu   sync.Mutex
	problems []string // corruption found after start

	closeOnce sync.Once
	closed    chan struct{}
	bg        sync.WaitGroup
	bgCancel  context.CancelFunc

	subscribers atomic.Int64
	// headSubs: subscriptions woken by every commit (headMoved); woken:
	// how many the last commit woke, those and the ones filtered by a
	// type it held (subscription pacing).
	headSubs atomic.Int64
	woken    atomic.Int64
	types    *typeMarks // latest position of each event type (subscriptions)
	stats    counters
}

type counters struct {
	appends, batches, fsyncs, events, bytes atomic.Uint64
}

func (o Options) withDefaults() Options {
	if o.FS == nil {
		o.FS = vfs.OS()
	}
	if o.FsyncInterval <= 0 {
		o.FsyncInterval = 10 * time.Millisecond
	}
	if o.SegmentSize <= 0 {
		o.SegmentSize = 256 << 20
	}
	if o.MaxBatchBytes <= 0 {
		o.MaxBatchBytes = 4 << 20
	}
	if o.MaxBatchEvents <= 0 {
		o.MaxBatchEvents = MaxAppendEvents
	}
	if o.MaxEventSize <= 0 {
		o.MaxEventSize = 1 << 20
	}
	o.MaxEventSize = min(o.MaxEventSize, MaxEventSizeLimit)
	o.MaxBatchBytes = min(o.MaxBatchBytes, maxBatchBytesLimit)
	if o.DedupeWindow <= 0 {
		o.DedupeWindow = 10 * time.Minute
	}
	if o.CheckpointEvery <= 0 {
		o.CheckpointEvery = 1_000_000
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.probeEvery <= 0 {
		o.probeEvery = time.Second
	}
	return o
}

// Open opens (creating if needed) the store in dir and recovers it.
func Open(dir string, opts Options) (*Store, error) {
	realFS := opts.FS == nil
	opts = opts.withDefaults()
	s := &Store{dir: dir, opts: opts, fs: opts.FS, logger: opts.Logger, closed: make(chan struct{})}
	if err := s.fs.MkdirAll(Layout{dir}.Index(), 0o755); err != nil {
		return nil, err
	}
	unlock, err := lockDir(s.fs, realFS, dir)
	if err != nil {
		return nil, err
	}
	s.unlock = unlock
	ok := false
	defer func() {
		if !ok {
			if s.log != nil {
				_ = s.log.Close()
			}
			_ = unlock()
		}
	}()

	lo := segment.Options{
		FS:            s.fs,
		SegmentSize:   opts.SegmentSize,
		MaxRecordSize: min(opts.MaxEventSize+64<<10, segment.MaxRecordSize),
		VerifyFull:    opts.VerifyFull,
		Repair:        opts.Repair,
		Logger:        s.logger,
	}
	s.log, err = segment.Open(Layout{dir}.Log(), lo)
	var ce *segment.CorruptionError
	if err != nil && errors.As(err, &ce) && unsyncedWindow(opts) {
		// Without fsync=always, frames reach the disk in whatever order the
		// kernel writes them back, so after a power loss a torn frame can
		// sit before an intact one. Tail verification only reads what was
		// never sealed (the last segment, segments without a footer): the
		// unsynced window the policy may lose. Cut it there, keeping the
		// damaged files as .broken copies, instead of refusing to start.
		s.logger.Warn("log damaged in the unsynced window: cutting it (the fsync policy allows losing it)",
			"policy", s.Policy(), "file", ce.File, "offset", ce.Offset, "cause", ce.Err)
		lo.Repair = true
		s.log, err = segment.Open(Layout{dir}.Log(), lo)
	}
	if err != nil {
		return nil, err
	}
	dd := newDedupe(opts.DedupeWindow)
	if err := s.recoverIndex(dd); err != nil {
		return nil, err
	}
	s.head.Store(s.ix.Head())
	s.types = newTypeMarks(s.ix.Head())
	s.w = newWriter(s, dd)
	// Timestamps never go backwards in the log, across restarts too.
	if h := s.Head(); h > 0 {
		err := s.scanPositions([]uint64{h}, true, func(r *segment.Record) bool {
			s.w.lastTS = r.Timestamp
			return true
		})
		if err != nil {
			return nil, err
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.bgCancel = cancel
	s.bg.Add(2)
	go func() { defer s.bg.Done(); s.w.background() }()
	go func() { defer s.bg.Done(); s.scrub(ctx) }()
	ok = true
	return s, nil
}

// unsyncedWindow reports whether a corruption found at open may be the
// unsynced tail that opts' fsync policy allows losing: not with
// fsync=always (nothing acknowledged is unsynced), not when every sealed
// segment was verified (VerifyFull reports old damage, which is never
// cut silently), and not when the operator chose Repair already.
func unsyncedWindow(opts Options) bool {
	return opts.Fsync != FsyncAlways && !opts.VerifyFull && !opts.Repair
}

// scrub checks the sealed segments' whole-file checksums once after start.
func (s *Store) scrub(ctx context.Context) {
	if err := s.log.Scrub(ctx); err != nil && ctx.Err() == nil {
		s.addProblem(err)
	}
}

// addProblem records corruption found after start; the store turns degraded.
func (s *Store) addProblem(err error) {
	msg := err.Error()
	s.probMu.Lock()
	defer s.probMu.Unlock()
	for _, p := range s.problems {
		if p == msg {
			return
		}
	}
	s.logger.Error("corruption found", "err", msg)
	s.problems = append(s.problems, msg)
}

// Close refuses new appends, commits every append already queued, fsyncs,
// writes an index checkpoint and releases the lock.
func (s *Store) Close() error {
	err := ErrClosed
	s.closeOnce.Do(func() {
		close(s.closed)
		s.bgCancel()
		s.w.stop()
		s.bg.Wait()
		s.w.drain() // commits what is queued; keeps the token
		var errs []error
		if s.failed.Load() == nil {
			if e := s.log.Sync(); e != nil {
				errs = append(errs, e)
			} else if e := s.writeCheckpoint(); e != nil {
				if segment.NoSpace(e) {
					// Only the start gets slower: it replays the log.
					s.logger.Warn("no room for the index checkpoint at close; the next start replays the log", "err", e)
				} else {
					errs = append(errs, fmt.Errorf("engine: checkpoint: %w", e))
				}
			}
		}
		errs = append(errs, s.log.Close(), s.unlock())
		err = errors.Join(errs...)
	})
	return err
}

// Head returns the visible (durable) head position: the number of events.
func (s *Store) Head() uint64 { return s.head.Load() }

// Err returns why appends are refused, a *FailedError: the sticky
// write/fsync failure, or (Recoverable) the file system being full until
// the store finds room again. nil when appends are taken.
func (s *Store) Err() error {
	if f := s.refusing(); f != nil {
		return f
	}
	return nil
}

// refusing is the failure appends are refused with, or nil.
func (s *Store) refusing() *FailedError {
	if f := s.failed.Load(); f != nil {
		return f
	}
	return s.full.Load()
}

// Problems lists what is wrong: the sticky failure or the full file
// system, and any corruption found by the scrub or by reads (file and
// offset). Empty when healthy.
func (s *Store) Problems() []string {
	var out []string
	if f := s.refusing(); f != nil {
		out = append(out, f.Error())
	}
	s.probMu.Lock()
	out = append(out, s.problems...)
	s.probMu.Unlock()
	return out
}

// Degraded reports corruption found after start (reads of damaged events fail).
func (s *Store) Degraded() bool {
	s.probMu.Lock()
	defer s.probMu.Unlock()
	return len(s.problems) > 0
}

// Policy returns the fsync policy as /health shows it: "always",
// "interval:10ms" or "never".
func (s *Store) Policy() string {
	switch s.opts.Fsync {
	case FsyncInterval:
		return "interval:" + s.opts.FsyncInterval.String()
	case FsyncNever:
		return "never"
	default:
		return "always"
	}
}

// Dir returns the data directory.
func (s *Store) Dir() string { return s.dir }

// Stats returns counters for /health and /metrics.
func (s *Store) Stats() Stats {
	st := Stats{
		Head:          s.Head(),
		Streams:       s.ix.Len(),
		Appends:       s.stats.appends.Load(),
		Batches:       s.stats.batches.Load(),
		Fsyncs:        s.stats.fsyncs.Load(),
		EventsWritten: s.stats.events.Load(),
		BytesWritten:  s.stats.bytes.Load(),
		Subscribers:   s.subscribers.Load(),
		IndexBytes:    s.ix.MemoryBytes(),
	}
	for _, seg := range s.log.Segments() {
		st.Segments++
		st.DataBytes += seg.Size
	}
	return st
}

// Stream returns one stream's metadata.
func (s *Store) Stream(id string) (StreamInfo, bool) {
	st, ok := s.ix.Stream(id)
	if !ok {
		return StreamInfo{}, false
	}
	info := streamInfo(st, s.Head())
	return info, info.Version > 0
}

func streamInfo(st index.Stream, head uint64) StreamInfo {
	pos := visible(st.Positions, head)
	return StreamInfo{
		ID:        st.ID,
		Version:   uint64(len(pos)),
		CreatedAt: time.Unix(0, st.CreatedAt).UTC(),
		UpdatedAt: time.Unix(0, st.UpdatedAt).UTC(),
	}
}

// visible trims a stream's positions to those at or below head (the index
// is applied a moment before head is published).
func visible(pos []uint64, head uint64) []uint64 {
	for len(pos) > 0 && pos[len(pos)-1] > head {
		pos = pos[:len(pos)-1]
	}
	return pos
}

// ListStreams lists streams with the prefix whose id is > after, in id order,
// at most limit; more reports whether further streams follow.
func (s *Store) ListStreams(prefix, after string, limit int) (streams []StreamInfo, more bool) {
	head := s.Head()
	s.ix.Ascend(prefix, after, 0, func(st index.Stream) bool {
		info := streamInfo(st, head)
		if info.Version == 0 {
			return true
		}
		if len(streams) == limit {
			more = true
			return false
		}
		streams = append(streams, info)
		return true
	})
	return streams, more
}
