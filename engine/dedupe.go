package engine

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/cespare/xxhash/v2"
)

// dedupe remembers the client-supplied event ids written in the last
// DedupeWindow, per stream, so a retried append is recognised. It keys on a
// 64-bit hash of (stream, id); a hit is only a candidate: the writer reads
// the events back from the log and compares ids before it answers
// "duplicate", so a hash collision can never suppress a new event.
//
// It is owned by the commit token's holder (leader.go; Open and Close hold
// it alone). It is rebuilt at start from the checkpoint plus the log
// after it, so the window survives restarts and crashes.
type dedupe struct {
	window int64             // nanoseconds
	m      map[uint64]uint64 // key → position of the event
	fifo   []ddEntry         // in position order; fifo[start:] are live
	start  int
}

type ddEntry struct {
	key uint64
	pos uint64
	ts  int64 // unix ns of the event
}

func newDedupe(window time.Duration) *dedupe {
	return &dedupe{window: int64(window), m: make(map[uint64]uint64)}
}

func dedupeKeyBytes(dst []byte, stream, id string) []byte {
	dst = append(dst, stream...)
	dst = append(dst, 0)
	return append(dst, id...)
}

func hashKey(b []byte) uint64 { return xxhash.Sum64(b) }

func (d *dedupe) get(key uint64) (uint64, bool) {
	p, ok := d.m[key]
	return p, ok
}

func (d *dedupe) add(key, pos uint64, ts int64) {
	d.m[key] = pos
	d.fifo = append(d.fifo, ddEntry{key, pos, ts})
}

// expire forgets ids older than the window at time now.
func (d *dedupe) expire(now int64) {
	cut := now - d.window
	i := d.start
	for i < len(d.fifo) && d.fifo[i].ts < cut {
		e := d.fifo[i]
		if d.m[e.key] == e.pos {
			delete(d.m, e.key)
		}
		i++
	}
	d.start = i
	if d.start > 1024 && d.start > len(d.fifo)/2 {
		// A new array, never a copy in place: a checkpoint may be encoding
		// the old one in the background (see live).
		d.fifo = append(make([]ddEntry, 0, 2*(len(d.fifo)-d.start)), d.fifo[d.start:]...)
		d.start = 0
	}
}

// Dedupe table encoding, stored as the index checkpoint's extra bytes
// (little-endian; the checkpoint's own checksum covers it):
//
//	+-----------------+-----------+--------------------------------------+
//	| covers u64      | count u32 | count × (key u64, pos u64, ts i64)   |
//	+-----------------+-----------+--------------------------------------+
//
// covers is the head position the table was taken at: entries for
// positions after it are rebuilt from the log.
const ddEntrySize = 24

// live returns the live entries. The slice stays valid and unchanged while
// the table goes on (entries are only appended after it or dropped by
// moving to a new array), so it may be read from another goroutine.
func (d *dedupe) live() []ddEntry { return d.fifo[d.start:len(d.fifo):len(d.fifo)] }

func encodeDedupe(live []ddEntry, covers uint64) []byte {
	b := make([]byte, 12, 12+len(live)*ddEntrySize)
	binary.LittleEndian.PutUint64(b, covers)
	binary.LittleEndian.PutUint32(b[8:], uint32(len(live)))
	for _, e := range live {
		b = binary.LittleEndian.AppendUint64(b, e.key)
		b = binary.LittleEndian.AppendUint64(b, e.pos)
		b = binary.LittleEndian.AppendUint64(b, uint64(e.ts))
	}
	return b
}

var errBadDedupe = errors.New("engine: bad dedupe table in checkpoint")

// decode loads a table written by encode and returns the position it covers.
func (d *dedupe) decode(b []byte) (uint64, error) {
	if len(b) < 12 {
		return 0, errBadDedupe
	}
	covers := binary.LittleEndian.Uint64(b)
	n := int(binary.LittleEndian.Uint32(b[8:]))
	b = b[12:]
	if len(b) != n*ddEntrySize {
		return 0, errBadDedupe
	}
	for i := 0; i < n; i++ {
		e := b[i*ddEntrySize:]
		d.add(binary.LittleEndian.Uint64(e), binary.LittleEndian.Uint64(e[8:]), int64(binary.LittleEndian.Uint64(e[16:])))
	}
	return covers, nil
}
