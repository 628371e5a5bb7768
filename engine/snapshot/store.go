package snapshot

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/eventd/eventd/engine"
	"github.com/eventd/eventd/engine/derived"
	"github.com/eventd/eventd/engine/jsonv"
	"github.com/eventd/eventd/engine/reducer"
)

// Log is what snapshots need of the store; *engine.Store has it.
type Log interface {
	ReadStreamFunc(streamID string, from uint64, dir engine.Direction, limit int, fn func(*engine.Event) error) (next, head uint64, err error)
	ReadAllFunc(from uint64, dir engine.Direction, limit int, f engine.Filter, fn func(*engine.Event) error) (next, head uint64, err error)
	Stream(id string) (engine.StreamInfo, bool)
	Head() uint64
	HeadMoved() <-chan struct{}
	Stored() engine.StoredReader
}

// Revisions gives an event type's upcaster-chain revision ("" when it has
// none), and a generation that changes with every schema change (a
// snapshot taken while it moved may mix two chains: it is taken again);
// *schema.Registry has it.
type Revisions interface {
	Revision(eventType string) string
	Generation() uint64
}

// Options configure snapshots. The zero value takes the defaults.
type Options struct {
	Every  int           // take one every this many events of a stream (0: default 100; <0: off)
	After  time.Duration // … and after a replay slower than this (0: default 20ms; <0: off)
	Retain int           // keep this many per stream and reducer (default 3)
	Codec  Codec         // compression of new snapshots (default CodecS2, see BENCHMARKS.md)
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Every == 0 {
		o.Every = 100
	}
	if o.After == 0 {
		o.After = 20 * time.Millisecond
	}
	if o.Retain <= 0 {
		o.Retain = 3
	}
	if o.Codec == "" {
		o.Codec = CodecS2
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Snapshot describes one stored snapshot (its state is read separately).
type Snapshot struct {
	ID       string `json:"snapshotId"`
	StreamID string `json:"streamId"`
	Version  uint64 `json:"version"`
	// Position and EventID are those of the stream's event at Version: a
	// snapshot is used only while the log still has that very event there
	// (a log that lost an unsynced tail under --fsync=interval or never may
	// have other events at the same versions, even positions).
	Position        uint64 `json:"position"`
	EventID         string `json:"eventId"`
	Reducer         string `json:"reducer"`
	ReducerRevision string `json:"reducerRevision"`
	// Types maps every event type folded into the state to the revision
	// of its upcaster chain then ("" for none): the snapshot is used only
	// while each is unchanged.
	Types     map[string]string `json:"types"`
	Source    string            `json:"source"` // "server" or "client"
	CreatedAt int64             `json:"createdAt"`
	SizeBytes int               `json:"sizeBytes"` // of the stored (compressed) state
	RawBytes  int               `json:"rawBytes"`  // of the state as JSON
}

// Created returns CreatedAt as a time.
func (s *Snapshot) Created() time.Time { return time.Unix(0, s.CreatedAt).UTC() }

// Store keeps aggregate snapshots in the derived-data store and replays
// streams from them. Safe for concurrent use.
type Store struct {
	db       *derived.DB
	log      Log
	reducers *reducer.Registry
	revs     Revisions
	opts     Options
	lg       *slog.Logger

	lastTS  atomic.Int64 // creation times are strictly increasing (they order equal versions)
	writeMu sync.Mutex   // put + retention of one snapshot at a time
	auto    *auto        // nil when automatic snapshots are off
}

var (
	// ErrUnknownStream: the stream has no events.
	ErrUnknownStream = errors.New("snapshot: no such stream")
	// ErrNoVersion: the version is not one of the stream's.
	ErrNoVersion = errors.New("snapshot: the stream has no such version")
)

// Open returns a Store over db (a key prefix of its own: "s/") and starts
// the automatic snapshots.
func Open(db *derived.DB, log Log, reducers *reducer.Registry, revs Revisions, opts Options) (*Store, error) {
	opts = opts.withDefaults()
	s := &Store{db: db, log: log, reducers: reducers, revs: revs, opts: opts, lg: opts.Logger}
	if opts.Every > 0 || opts.After > 0 {
		a, err := startAuto(s)
		if err != nil {
			return nil, err
		}
		s.auto = a
	}
	return s, nil
}

// Close stops the automatic snapshots (a snapshot being taken finishes).
func (s *Store) Close() error {
	if s.auto != nil {
		return s.auto.close()
	}
	return nil
}

// Key layout (the value format is in format.go):
//
//	s/<streamId> 0x00 <version u64 BE> <createdAt u64 BE>  → snapshot value
//	s!tail                                                  → auto snapshots' $all cursor (u64 BE)
//
// Stream ids never contain 0x00, so a stream's snapshots are exactly the
// keys in [s/<id>\x00, s/<id>\x01), in version then creation order.
const keyPrefix = "s/"

func streamStart(stream string) []byte {
	b := make([]byte, 0, len(keyPrefix)+len(stream)+17)
	b = append(b, keyPrefix...)
	b = append(b, stream...)
	return append(b, 0)
}

func streamEnd(stream string) []byte {
	b := streamStart(stream)
	b[len(b)-1] = 1
	return b
}

func snapKey(stream string, version uint64, created int64) []byte {
	b := streamStart(stream)
	b = binary.BigEndian.AppendUint64(b, version)
	return binary.BigEndian.AppendUint64(b, uint64(created))
}

// now returns a creation time later than every one before it.
func (s *Store) now() int64 {
	for {
		t, last := time.Now().UnixNano(), s.lastTS.Load()
		if t <= last {
			t = last + 1
		}
		if s.lastTS.CompareAndSwap(last, t) {
			return t
		}
	}
}

// put stores a snapshot and prunes the stream's snapshots of the same
// reducer down to the last Retain taken.
func (s *Store) put(meta Snapshot, state []byte) (Snapshot, error) {
	meta.CreatedAt = s.now()
	meta.ID = "v" + strconv.FormatUint(meta.Version, 10) + "-" + strconv.FormatInt(meta.CreatedAt, 36)
	meta.RawBytes = len(state)
	val, err := encodeValue(&meta, state, s.opts.Codec)
	if err != nil {
		return Snapshot{}, err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	b := s.db.NewBatch()
	committing := false // CommitRequest takes b over
	defer func() {
		if !committing {
			_ = b.Close()
		}
	}()
	if err := b.Set(snapKey(meta.StreamID, meta.Version, meta.CreatedAt), val, nil); err != nil {
		return Snapshot{}, err
	}
	type older struct {
		key     []byte
		created int64
	}
	var same []older
	err = s.scan(meta.StreamID, ^uint64(0), func(key []byte, m Snapshot, _ func() ([]byte, error)) bool {
		if m.Reducer == meta.Reducer {
			same = append(same, older{key, m.CreatedAt})
		}
		return true
	})
	if err != nil {
		return Snapshot{}, err
	}
	// The last Retain taken are kept: the new one and the newest others.
	slices.SortFunc(same, func(a, b older) int { return cmp.Compare(b.created, a.created) })
	for i := s.opts.Retain - 1; i >= 0 && i < len(same); i++ {
		if err := b.Delete(same[i].key, nil); err != nil {
			return Snapshot{}, err
		}
	}
	committing = true
	// A full disk answers 503 at once (the commit then finishes when there
	// is room) rather than holding the request.
	if err := s.db.CommitRequest(b, pebble.Sync); err != nil {
		return Snapshot{}, err
	}
	return meta, nil
}

// scan calls fn with the stream's snapshots at or below maxVersion, highest
// version first (newest first among equals), until fn returns false.
// Damaged values are skipped with a warning. state decodes the value's
// state JSON on demand.
func (s *Store) scan(stream string, maxVersion uint64, fn func(key []byte, m Snapshot, state func() ([]byte, error)) bool) error {
	upper := streamEnd(stream)
	if maxVersion != ^uint64(0) {
		upper = binary.BigEndian.AppendUint64(streamStart(stream), maxVersion+1)
	}
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: streamStart(stream), UpperBound: upper})
	if err != nil {
		return err
	}
	defer it.Close()
	for ok := it.Last(); ok; ok = it.Prev() {
		v, err := it.ValueAndErr()
		if err != nil {
			return err
		}
		m, codec, raw, body, err := decodeMeta(v)
		if err != nil {
			s.lg.Warn("snapshot: skipping a damaged snapshot", "stream", stream, "key", fmt.Sprintf("%x", it.Key()), "err", err)
			continue
		}
		key := append([]byte(nil), it.Key()...)
		state := func() ([]byte, error) { return decodeState(codec, raw, body) }
		if !fn(key, m, state) {
			break
		}
	}
	return it.Error()
}

// List returns the stream's snapshots, highest version first (newest
// first among equal versions). ErrUnknownStream when it has no events.
func (s *Store) List(stream string) ([]Snapshot, error) {
	if info, ok := s.log.Stream(stream); !ok || info.Version == 0 {
		return nil, ErrUnknownStream
	}
	out := []Snapshot{}
	err := s.scan(stream, ^uint64(0), func(_ []byte, m Snapshot, _ func() ([]byte, error)) bool {
		out = append(out, m)
		return true
	})
	return out, err
}

// Latest returns the stream's snapshot with the highest version (the
// newest among equals) and its state; ok is false when it has none.
func (s *Store) Latest(stream string) (m Snapshot, state reducer.State, ok bool, err error) {
	err = s.scan(stream, ^uint64(0), func(_ []byte, sm Snapshot, st func() ([]byte, error)) bool {
		b, derr := st()
		if derr != nil {
			s.lg.Warn("snapshot: skipping a damaged snapshot", "stream", stream, "snapshot", sm.ID, "err", derr)
			return true
		}
		if state, derr = jsonv.DecodeObject(b); derr != nil {
			s.lg.Warn("snapshot: skipping a damaged snapshot", "stream", stream, "snapshot", sm.ID, "err", derr)
			return true
		}
		m, ok = sm, true
		return false
	})
	return m, state, ok, err
}

// Take computes the state of stream at version (0: its current version)
// with the stream's reducer, from the best snapshot below it, and stores
// it as a server snapshot.
func (s *Store) Take(ctx context.Context, stream string, version uint64) (Snapshot, error) {
	info, ok := s.log.Stream(stream)
	if !ok || info.Version == 0 {
		return Snapshot{}, ErrUnknownStream
	}
	if version == 0 {
		version = info.Version
	}
	if version > info.Version {
		return Snapshot{}, fmt.Errorf("%w: version %d, the stream is at %d", ErrNoVersion, version, info.Version)
	}
	red := s.reducers.ForStream(stream)
	for try := 0; ; try++ {
		gen := s.revs.Generation()
		res, err := s.replay(ctx, stream, version, red, true, false, nil)
		if err != nil {
			return Snapshot{}, err
		}
		if s.revs.Generation() == gen {
			return s.store(stream, version, red, res.Types, res.State, "server")
		}
		if try == 2 {
			return Snapshot{}, ErrSchemasMoving
		}
	}
}

// ErrSchemasMoving: the schemas kept changing while a snapshot was taken
// (each time, the state may have been folded through two chains).
var ErrSchemasMoving = errors.New("snapshot: the schemas changed while the snapshot was taken; try again")

// Put stores a client-supplied state for stream at version, which must be
// one of the stream's. It records the stream's reducer and the chain
// revisions of the types of events 1..version, so it is retired like a
// computed one when either changes.
func (s *Store) Put(ctx context.Context, stream string, version uint64, state reducer.State) (Snapshot, error) {
	info, ok := s.log.Stream(stream)
	if !ok || info.Version == 0 {
		return Snapshot{}, ErrUnknownStream
	}
	if version < 1 || version > info.Version {
		return Snapshot{}, fmt.Errorf("%w: version %d, the stream has 1 to %d", ErrNoVersion, version, info.Version)
	}
	gen := s.revs.Generation()
	types := map[string]string{}
	for from := uint64(0); from < version; {
		n := 0
		_, _, err := s.log.ReadStreamFunc(stream, from, engine.Forward, int(min(version-from, 10000)), func(e *engine.Event) error {
			if _, ok := types[e.Type]; !ok {
				types[strings.Clone(e.Type)] = s.revs.Revision(e.Type)
			}
			from, n = e.Version, n+1
			return nil
		})
		if err != nil || n == 0 {
			if err == nil {
				break
			}
			return Snapshot{}, err
		}
	}
	if s.revs.Generation() != gen {
		return Snapshot{}, ErrSchemasMoving
	}
	return s.store(stream, version, s.reducers.ForStream(stream), types, state, "client")
}

func (s *Store) store(stream string, version uint64, red reducer.Reducer, types map[string]string, state reducer.State, source string) (Snapshot, error) {
	pos, id, ok, err := s.eventAt(stream, version)
	if err != nil {
		return Snapshot{}, err
	}
	if !ok {
		return Snapshot{}, fmt.Errorf("%w: version %d", ErrNoVersion, version)
	}
	b, err := jsonv.AppendObject(nil, state)
	if err != nil {
		return Snapshot{}, err
	}
	return s.put(Snapshot{StreamID: stream, Version: version, Position: pos, EventID: id, Reducer: red.Name(),
		ReducerRevision: red.Revision(), Types: types, Source: source}, b)
}

// eventAt returns the global position and the event id of the stream's
// event at version (read as stored: no upcasting).
func (s *Store) eventAt(stream string, version uint64) (pos uint64, id string, ok bool, err error) {
	if version == 0 {
		return 0, "", false, nil
	}
	_, _, err = s.log.Stored().ReadStreamFunc(stream, version-1, engine.Forward, 1, func(e *engine.Event) error {
		if e.Version == version {
			pos, id, ok = e.Position, strings.Clone(e.ID), true
		}
		return nil
	})
	return pos, id, ok, err
}
