package engine

import (
	"errors"
	"fmt"
	"time"

	"github.com/eventd/eventd/segment"
)

// Writes that provably wrote nothing.
//
// segment.Log.Write marks with segment.ErrNotWritten the failures after
// which the log is exactly as it was: a segment file that could not be
// opened or created at a roll (EMFILE, ENFILE, ENOSPC at create, …), and a
// frame that found no room (ENOSPC, EDQUOT before any fsync: the log zeroes
// or cuts off what the write put down, so recovery never sees it; see
// segment/nospace.go). Everything else — a failed fsync above all, after
// which the page cache cannot be trusted — stays sticky (writer.fail).
//
// Why the writer's state needs no undoing beyond dropping the batch:
//
//   - Positions come from the visible head at the start of each batch
//     (commit: next = head+1), and head moves only after a batch is
//     written, fsynced (per the policy) and applied. A batch that was not
//     written leaves head, so the next batch is given the same positions:
//     no gap, and the log's LastPosition (which did not move either) still
//     equals head.
//   - The index (ix.Apply) and the dedupe table (dd.add of newKeys) are
//     changed only after the write and fsync succeed, so they never hold
//     the failed batch. dd.expire only forgets entries by age. lastTS may
//     have moved forward: timestamps stay monotonic, which is all it
//     promises.
//   - What prepare built for the batch (pending versions, batchIDs,
//     newKeys, entries, the frame) is scratch, rebuilt by the next commit;
//     commit clears it once the batch is answered (resetBatch), as after
//     any batch.
//   - Every request of the batch is answered with the failure (503), with
//     no result: also those whose answer depended on an earlier request of
//     the same batch (a version it created, a duplicate of it), since that
//     request did not happen either. Nothing of the batch was acknowledged,
//     and nothing of it can show up later: readers see only up to head.
//
// A file that could not be created fails only the batch at hand: the next
// batch rolls again (a burst of EMFILE costs those appends, not the store).
// No room is different: every append would fail the same way, so the store
// refuses appends at once (Append, AppendMulti, commit) with a Recoverable
// *FailedError that Err and Problems report (/health: unhealthy, with the
// reason), and the writer probes for room: Log.Probe writes and fsyncs a
// block as large as the failed frame past the active segment's end and
// cuts it off again. The first probe is due probeEvery (1s) after the
// failure, then the wait doubles up to probeMaxWait; the background
// goroutine probes when one is due (a timer, taking the commit token), and
// a token holder before a batch that slipped in. Once a probe's
// write and fsync succeed, s.full is cleared and appends are taken again:
// freeing space is all an operator has to do. A probe whose fsync fails
// makes the failure sticky, like any failed fsync of the log.

// probeMaxWait caps the wait between probes of a full file system.
const probeMaxWait = 5 * time.Second

// notWrittenLogEvery spaces the log lines about appends not written for a
// passing reason (EMFILE at a roll): one per streak start, then at most one
// per this interval, with the count.
const notWrittenLogEvery = 10 * time.Second

// writeFailed handles a failed Log.Write of the batch reqs: sticky unless
// the log says it wrote nothing (see above).
func (w *writer) writeFailed(err error, reqs []*appendReq) {
	if !errors.Is(err, segment.ErrNotWritten) {
		w.fail(fmt.Errorf("write: %w", err), reqs)
		return
	}
	f := &FailedError{Err: err, Recoverable: true}
	if segment.NoSpace(err) {
		w.noRoom(f)
	} else {
		w.notWritten(f)
	}
	answerFailed(reqs, f)
}

// noRoom refuses appends until a probe finds room (s.full).
func (w *writer) noRoom(f *FailedError) {
	if w.s.full.Load() == nil {
		w.s.logger.Error("no room for the log: appends refused until space is freed (the store probes for room and resumes by itself)", "err", f.Err)
	}
	w.s.full.Store(f)
	w.probeWait = w.s.opts.probeEvery
	w.nextProbe = time.Now().Add(w.probeWait)
}

// probeIfDue probes for room if the time has come.
func (w *writer) probeIfDue() {
	if !time.Now().Before(w.nextProbe) {
		w.probe()
	}
}

// probe asks the log whether there is room again: yes clears s.full, no
// waits longer before the next probe, a failed fsync is sticky.
func (w *writer) probe() {
	err := w.s.log.Probe()
	switch {
	case err == nil:
		w.s.full.Store(nil)
		w.s.logger.Info("room for the log again: appends accepted")
	case errors.Is(err, segment.ErrNotWritten):
		w.probeWait = min(2*w.probeWait, probeMaxWait, 64*w.s.opts.probeEvery)
		w.nextProbe = time.Now().Add(w.probeWait)
		w.s.logger.Debug("still no room for the log", "err", err, "nextProbeIn", w.probeWait)
	default:
		w.fail(fmt.Errorf("probe: %w", err), nil)
		w.s.full.Store(nil) // the sticky failure says it all now
	}
}

// notWritten logs an append not written for a passing reason, sparingly.
func (w *writer) notWritten(f *FailedError) {
	w.notWrittenCount++
	if now := time.Now(); !w.notWrittenStreak || now.Sub(w.notWrittenLogged) >= notWrittenLogEvery {
		w.s.logger.Warn("appends not written; the store is fine and the next append tries again", "err", f.Err, "batches", w.notWrittenCount)
		w.notWrittenLogged, w.notWrittenCount = now, 0
	}
	w.notWrittenStreak = true
}

// writtenAgain logs the first batch written after appends were not.
func (w *writer) writtenAgain() {
	w.s.logger.Info("appends written again", "notWrittenSinceLastLog", w.notWrittenCount)
	w.notWrittenStreak, w.notWrittenCount = false, 0
}
