// Package segment is eventd's on-disk log: an append-only sequence of
// frames in segment files. A frame is one group-commit batch of records
// (events), written with one WriteAt and checksummed as a whole, so a batch
// is durable entirely or not at all. The byte layout is drawn in format.go
// and record.go and mirrored in docs/format.md.
//
// There are only a few types: Log (the open log), Batch (a frame being
// built), Record (one event), Loc (where a record is) and Options; damage
// is reported as a *CorruptionError, and Verify returns a Report.
//
// # Lifecycle
//
//	l, err := segment.Open(dir, segment.Options{})  // recovers the tail
//	if err != nil { ... }                            // *CorruptionError: file and offset
//	var b segment.Batch
//	b.Reset(l.LastPosition() + 1)
//	rel := b.Add(&segment.Record{Position: l.LastPosition() + 1, StreamID: "order-1", ...})
//	seg, frameOff, err := l.Write(&b)                // one WriteAt; rolls first if needed
//	err = l.Sync()                                   // fdatasync: now it is durable
//	loc := segment.MakeLoc(seg, frameOff+int64(rel))
//	r, buf, err := l.ReadRecord(loc, buf)            // verified; r aliases buf
//	err = l.Close()
//
// # Concurrency
//
// Write, Probe, TruncateAfter and Close belong to one writer at a time: the
// engine calls them from whichever goroutine holds its commit token, and
// passing the token orders each holder's calls after the last's. Sync is
// called by the token holder too; it does not hold the log's lock while
// the fsync runs. ReadAt, ReadRecord, Replay, Segments, Scrub and
// LastPosition may be called from any goroutine: they load an immutable
// segment list through an atomic.Pointer and use ReadAt (pread), never the
// writer's lock. Sealed segments never change. The log does not decide what
// readers may see: the engine publishes its visible head only after Sync,
// and readers ask only for what it published. TruncateAfter removes files:
// no reader may be reading past the cut. Only tests call TruncateAfter
// today (Open cuts a torn tail by itself, and the engine recovers with Open
// then Replay); it is kept for replication, a future raft follower
// truncating a divergent suffix.
//
// A failed sync is sticky: every later Write and Sync returns that error,
// never retrying and then acknowledging; so is a failed write or roll the
// log cannot take back. A Write error wrapping ErrNotWritten left the log
// as it was (a segment that could not be created at a roll; a frame that
// found no room, zeroed or cut off again; see nospace.go): the same
// positions may be written again, and after ENOSPC or EDQUOT Probe tells
// when there is room. Records
// returned by ReadRecord, DecodeRecord and Replay alias a buffer (strings
// through unsafe.String): treat them as read-only and copy what you keep
// (a Replay record is valid only during its callback).
//
// # Segments
//
// Segment files are named after their first position (%020d.seg) and roll
// when a frame plus a footer would pass Options.SegmentSize; a frame larger
// than a segment gets a segment of its own. The next segment is prepared
// off the append path by a background goroutine (prealloc.tmp, zero-filled
// to SegmentSize and synced: fdatasync into such space is cheaper than
// appending), but only while the file system (statfs through vfs.DiskSpace)
// has the segment plus a reserve free: it never takes space the log needs.
// A preparation that fails or runs short is removed at once, and the next
// try waits (1s doubling to a minute; see prealloc.go). At a roll the old
// segment is synced, the new one gets its
// header (synced), is renamed to its final name and the directory is
// synced; if the prepared file is not ready, an empty one is made instead,
// without waiting. A small goroutine then seals the old segment: footer
// with a whole-file hash (kept as a running digest while writing),
// fdatasync, cut of the zero tail, sync.
//
// # Recovery (Open)
//
//  1. Leftover *.tmp files are removed.
//  2. Every segment but the last must have a valid footer; one without it
//     (a crash before the seal finished) is scanned frame by frame and
//     sealed now; a bad frame in it, or a zeroed frame header followed by
//     a good frame, is corruption (only the last segment has a tail that
//     can be torn). With Options.VerifyFull every frame, record and
//     whole-file hash of every sealed segment is checked as well; otherwise
//     Scrub does that in the background after start.
//  3. The last segment is scanned: every frame must decode, match its
//     checksum, start at the expected position and hold its count of
//     records. The scan stops at a zero length field (zero-filled space),
//     at the end of the file or at a bad frame. A bad or zeroed frame with
//     no good frame after it is a torn tail: never acknowledged, so it is
//     cut, and the bytes from the cut to the last non-zero byte are
//     overwritten with zeros and synced so no stale frame can line up
//     later. A bad or zeroed frame followed by a good frame is corruption,
//     and so is a bad frame that matches its checksum (written whole, so
//     not torn). One function, classifyStop (scan.go), makes that call for
//     recovery and for Verify alike.
//  4. Corruption anywhere (not a torn tail) fails Open with a
//     *CorruptionError naming file and offset, unless Options.Repair: then
//     the damaged segment is copied to <name>.broken, later segments are
//     renamed to .broken, the log is cut at the last good frame before the
//     damage (a segment with a bad header is renamed to .broken whole), and
//     Open goes on. See repair.go.
//
// Reads never return unverified data: ReadRecord checks the record's own
// checksum and Replay each frame's checksum; damage gives a
// *CorruptionError. Verify checks a closed log offline.
//
// # Files
//
// options.go (Options), log.go (Log, Open, Close), recover.go (what Open
// checks), repair.go (Options.Repair), write.go (Write, rolls, seals, Sync),
// truncate.go (TruncateAfter), read.go (ReadAt, ReadRecord, Replay, Scrub),
// scan.go (the frame scan and the torn-tail rule), reader.go (the
// sequential reader they use), verify.go (Verify), format.go and record.go
// (the byte layout), errors.go, prealloc.go (the next segment, prepared
// ahead), nospace.go (a full file system: taking a frame back, Probe).
package segment
