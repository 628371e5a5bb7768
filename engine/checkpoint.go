package engine

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/eventd/eventd/index"
	"github.com/eventd/eventd/segment"
	"github.com/eventd/eventd/segment/vfs"
)

const replayBatch = 4096

func (s *Store) checkpointPath() string { return Layout{s.dir}.Checkpoint() }

// recoverIndex builds the index and the dedupe table: from the checkpoint
// when it is valid and agrees with the log, then from the log after it.
func (s *Store) recoverIndex(dd *dedupe) error {
	t0 := time.Now()
	ix, ddCovers, err := s.loadCheckpoint(dd)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			s.logger.Warn("index checkpoint unusable, scanning the whole log", "err", err)
			// Delete it before any append: a checkpoint ahead of the log
			// would otherwise describe positions that get written anew.
			if rerr := s.fs.Remove(s.checkpointPath()); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
				return rerr
			}
			if serr := s.fs.SyncDir(filepath.Dir(s.checkpointPath())); serr != nil {
				return serr
			}
		}
		ix, ddCovers = index.New(), 0
		*dd = *newDedupe(s.opts.DedupeWindow)
	}
	ixHead := ix.Head()
	from := min(ixHead, ddCovers)
	cut := time.Now().UnixNano() - int64(s.opts.DedupeWindow)
	entries := make([]index.Entry, 0, replayBatch)
	var keyBuf []byte
	// Records passed to fn alias the replay buffer: ids kept beyond the call
	// (entries wait for a batch to fill) are cloned.
	err = s.log.Replay(from, func(r *segment.Record, loc uint64) error {
		if r.Position > ixHead {
			if r.Position != ix.Head()+uint64(len(entries))+1 {
				return fmt.Errorf("%w: log replay gives position %d after %d", ErrCorrupt, r.Position, ix.Head()+uint64(len(entries)))
			}
			entries = append(entries, index.Entry{Pos: r.Position, StreamID: strings.Clone(r.StreamID), Loc: loc, Timestamp: r.Timestamp})
			if len(entries) == replayBatch {
				ix.Apply(entries)
				entries = entries[:0]
			}
		}
		if r.Position > ddCovers && r.Flags&segment.FlagClientID != 0 && r.Timestamp >= cut {
			keyBuf = dedupeKeyBytes(keyBuf[:0], r.StreamID, r.EventID)
			dd.add(hashKey(keyBuf), r.Position, r.Timestamp)
		}
		return nil
	})
	if err != nil {
		return err
	}
	ix.Apply(entries)
	if ix.Head() != s.log.LastPosition() {
		return fmt.Errorf("engine: index head %d after replay, log ends at %d", ix.Head(), s.log.LastPosition())
	}
	s.ix = ix
	s.logger.Info("store opened", "dir", s.dir, "events", ix.Head(), "streams", ix.Len(),
		"fromCheckpoint", ixHead, "took", time.Since(t0).Round(time.Millisecond))
	return nil
}

// loadCheckpoint reads the checkpoint and checks it against the log: it
// must not be ahead of the log, and the record at its last position must be
// the one it says.
func (s *Store) loadCheckpoint(dd *dedupe) (*index.Index, uint64, error) {
	b, err := vfs.ReadFile(s.fs, s.checkpointPath())
	if err != nil {
		return nil, 0, err
	}
	ix, extra, err := index.ReadCheckpoint(b)
	if err != nil {
		return nil, 0, err
	}
	head := ix.Head()
	if head > s.log.LastPosition() {
		return nil, 0, fmt.Errorf("checkpoint covers position %d, the log ends at %d", head, s.log.LastPosition())
	}
	if head > 0 {
		loc, ok := ix.Locate(head)
		if !ok {
			return nil, 0, fmt.Errorf("checkpoint has no location for its head %d", head)
		}
		rec, _, err := s.log.ReadRecord(loc, nil)
		if err != nil {
			return nil, 0, fmt.Errorf("checkpoint head %d: %w", head, err)
		}
		st, ok := ix.Stream(rec.StreamID)
		if rec.Position != head || !ok || rec.Version == 0 || uint64(len(st.Positions)) < rec.Version || st.Positions[rec.Version-1] != head {
			return nil, 0, fmt.Errorf("checkpoint head %d does not match the log", head)
		}
	}
	covers, err := dd.decode(extra)
	if err != nil {
		return nil, 0, err
	}
	return ix, covers, nil
}

// writeCheckpoint writes the index and dedupe table atomically (temp file,
// fsync, rename, fsync dir). Only while the writer is stopped (Close).
func (s *Store) writeCheckpoint() error {
	return s.saveCheckpoint(s.ix, encodeDedupe(s.w.dd.live(), s.Head()))
}

func (s *Store) saveCheckpoint(ix *index.Index, extra []byte) error {
	return vfs.WriteFileAtomic(s.fs, s.checkpointPath(), func(w io.Writer) error {
		return ix.WriteCheckpoint(w, extra)
	})
}

// maybeCheckpoint starts a background checkpoint every CheckpointEvery
// events. It runs under the commit token (leader.go), in whichever goroutine
// holds it: the log is fsynced first, so the
// checkpoint never covers what is not durable, and the dedupe table is
// copied here, where it is consistent with the head it covers.
func (w *writer) maybeCheckpoint() {
	if w.ckptActive {
		select {
		case err := <-w.ckptDone:
			w.ckptActive = false
			if err != nil {
				w.s.logger.Warn("periodic index checkpoint failed", "err", err)
			}
		default:
			return
		}
	}
	if w.sinceCkpt < w.s.opts.CheckpointEvery || w.s.refusing() != nil {
		return
	}
	if w.dirty && !w.sync(nil) {
		return
	}
	w.sinceCkpt = 0
	w.ckptActive = true
	// The live dedupe entries are copied by slice header only: entries are
	// never changed in place (see dedupe.expire), so encoding them in the
	// background is safe and the writer does not stall on a large table.
	live, covers := w.dd.live(), w.s.head.Load()
	go func() { w.ckptDone <- w.s.saveCheckpoint(w.s.ix, encodeDedupe(live, covers)) }()
}

// waitCheckpoint waits for a background checkpoint still running.
func (w *writer) waitCheckpoint() {
	if w.ckptActive {
		<-w.ckptDone
		w.ckptActive = false
	}
}
