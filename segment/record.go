package segment

import (
	"encoding/binary"
	"fmt"
	"unsafe"

	"github.com/cespare/xxhash/v2"
)

// Record is one event as stored; see docs/format.md.
type Record struct {
	Position, Version uint64
	Timestamp         int64 // unix nanoseconds
	SchemaVersion     uint32
	Flags             uint8 // FlagClientID: the event id was supplied by the client
	// AppendIndex is the event's place in its Append call and AppendLen
	// that call's event count.
	AppendIndex, AppendLen  uint32
	StreamID, EventID, Type string
	Metadata, Data          []byte
}

// FlagClientID in Record.Flags: the event id was supplied by the client.
const FlagClientID uint8 = 1 << 0

// The record format, inside a frame. Part of the on-disk format.
//
//	0            4               12
//	+------------+---------------+---------------------------+
//	| length u32 | checksum u64  | payload (length bytes)    |
//	+------------+---------------+---------------------------+
//
//	checksum = xxh64(the 4 length bytes || payload)
//
// Payload:
//
//	+--------------+-------------+----------------+-------------------+-----------+
//	| position u64 | version u64 | timestamp i64  | schemaVersion u32 | flags u8  |
//	+--------------+-------------+----------------+-------------------+-----------+
//	| appendIndex uvarint | appendLen uvarint |
//	+---------------------+-------------------+
//	| streamID | eventID | type | metadata | data |   each: uvarint length + bytes
//	+----------+---------+------+----------+------+
//
// A record carries its own checksum so that one record can be read and
// verified without reading its whole frame.
const (
	recordHeaderSize  = 12
	recordFixedFields = 8 + 8 + 8 + 4 + 1
	// minRecordSize is the smallest possible record: the fixed fields, two
	// one-byte uvarints and five empty strings.
	minRecordSize = recordHeaderSize + recordFixedFields + 2 + 5
	// MaxRecordSize is the format's limit on a record's payload length; a
	// length field above it is corruption. Options.MaxRecordSize may only
	// lower it.
	MaxRecordSize = 64 << 20
)

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

// RecordSize returns the encoded size of r, header included.
func RecordSize(r *Record) int {
	return recordHeaderSize + recordFixedFields +
		uvarintLen(uint64(r.AppendIndex)) + uvarintLen(uint64(r.AppendLen)) +
		uvarintLen(uint64(len(r.StreamID))) + len(r.StreamID) +
		uvarintLen(uint64(len(r.EventID))) + len(r.EventID) +
		uvarintLen(uint64(len(r.Type))) + len(r.Type) +
		uvarintLen(uint64(len(r.Metadata))) + len(r.Metadata) +
		uvarintLen(uint64(len(r.Data))) + len(r.Data)
}

// AppendRecord appends the encoding of r (header and checksum included) to
// dst. Pure.
func AppendRecord(dst []byte, r *Record) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, recordHeaderSize)...)
	le := binary.LittleEndian
	dst = le.AppendUint64(dst, r.Position)
	dst = le.AppendUint64(dst, r.Version)
	dst = le.AppendUint64(dst, uint64(r.Timestamp))
	dst = le.AppendUint32(dst, r.SchemaVersion)
	dst = append(dst, r.Flags)
	dst = binary.AppendUvarint(dst, uint64(r.AppendIndex))
	dst = binary.AppendUvarint(dst, uint64(r.AppendLen))
	dst = appendString(dst, r.StreamID)
	dst = appendString(dst, r.EventID)
	dst = appendString(dst, r.Type)
	dst = binary.AppendUvarint(dst, uint64(len(r.Metadata)))
	dst = append(dst, r.Metadata...)
	dst = binary.AppendUvarint(dst, uint64(len(r.Data)))
	dst = append(dst, r.Data...)
	rec := dst[start:]
	le.PutUint32(rec[0:], uint32(len(rec)-recordHeaderSize))
	le.PutUint64(rec[4:], recordChecksum(rec[0:4], rec[recordHeaderSize:]))
	return dst
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func recordChecksum(len4, payload []byte) uint64 {
	var d xxhash.Digest
	d.Reset()
	d.Write(len4)
	d.Write(payload)
	return d.Sum64()
}

// DecodeRecord decodes the record at the start of b, verifying its checksum,
// and returns it with the number of bytes it took. Pure; every length is
// bounds-checked and errors wrap ErrCorrupt.
//
// Zero copy: the strings and slices of r alias b (strings through
// unsafe.String), so the caller must not modify b while r is in use.
// Empty Metadata and Data decode as nil.
func DecodeRecord(b []byte) (r Record, n int, err error) {
	return decodeRecord(b, true)
}

func decodeRecord(b []byte, verify bool) (r Record, n int, err error) {
	if len(b) < recordHeaderSize {
		return r, 0, errTruncated
	}
	le := binary.LittleEndian
	plen := le.Uint32(b)
	if plen > MaxRecordSize {
		return r, 0, fmt.Errorf("%w: record length %d over limit %d", ErrCorrupt, plen, MaxRecordSize)
	}
	if uint64(len(b)-recordHeaderSize) < uint64(plen) {
		return r, 0, errTruncated
	}
	p := b[recordHeaderSize : recordHeaderSize+int(plen)]
	if verify && recordChecksum(b[:4], p) != le.Uint64(b[4:]) {
		return r, 0, corruptf("record checksum mismatch")
	}
	if len(p) < recordFixedFields {
		return r, 0, corruptf("record payload too short")
	}
	r.Position = le.Uint64(p[0:])
	r.Version = le.Uint64(p[8:])
	r.Timestamp = int64(le.Uint64(p[16:]))
	r.SchemaVersion = le.Uint32(p[24:])
	r.Flags = p[28]
	d := decoder{b: p, off: recordFixedFields}
	r.AppendIndex = d.u32()
	r.AppendLen = d.u32()
	r.StreamID = d.str()
	r.EventID = d.str()
	r.Type = d.str()
	r.Metadata = d.bytes()
	r.Data = d.bytes()
	if d.bad {
		return Record{}, 0, corruptf("record payload malformed")
	}
	if d.off != len(p) {
		return Record{}, 0, corruptf("record payload has %d trailing bytes", len(p)-d.off)
	}
	return r, recordHeaderSize + int(plen), nil
}

// decoder reads uvarints and length-prefixed fields; after the first error
// it sets bad and returns zero values.
type decoder struct {
	b   []byte
	off int
	bad bool
}

func (d *decoder) uvarint() uint64 {
	if d.bad {
		return 0
	}
	x, k := binary.Uvarint(d.b[d.off:])
	if k <= 0 {
		d.bad = true
		return 0
	}
	d.off += k
	return x
}

func (d *decoder) u32() uint32 {
	x := d.uvarint()
	if x > 1<<32-1 {
		d.bad = true
		return 0
	}
	return uint32(x)
}

func (d *decoder) field() []byte {
	n := d.uvarint()
	if d.bad {
		return nil
	}
	if n > uint64(len(d.b)-d.off) {
		d.bad = true
		return nil
	}
	if n == 0 {
		return nil
	}
	f := d.b[d.off : d.off+int(n) : d.off+int(n)]
	d.off += int(n)
	return f
}

func (d *decoder) str() string {
	f := d.field()
	if len(f) == 0 {
		return ""
	}
	return unsafe.String(&f[0], len(f))
}

func (d *decoder) bytes() []byte { return d.field() }

// Batch is one frame being built: the records of one group-commit batch,
// encoded back to back after space reserved for the frame header, so Write
// is a single WriteAt. Reuse a Batch with Reset. The zero value must be
// Reset before use.
type Batch struct {
	buf      []byte
	firstPos uint64
	count    int
	maxRec   int   // largest record payload added
	err      error // the first record whose position was not the next
}

// Reset empties b for a frame whose first record has position firstPos.
func (b *Batch) Reset(firstPos uint64) {
	if cap(b.buf) < frameHeaderSize {
		b.buf = make([]byte, frameHeaderSize, 64<<10)
	}
	b.buf = b.buf[:frameHeaderSize]
	clear(b.buf)
	b.firstPos = firstPos
	b.count = 0
	b.maxRec = 0
	b.err = nil
}

// Add encodes r into the frame and returns its offset from the frame start
// (the record's Loc offset is the frame offset Write returns plus rel).
// Positions must be consecutive from Reset's firstPos; Write reports a
// record that is out of place.
func (b *Batch) Add(r *Record) (rel uint32) {
	if len(b.buf) < frameHeaderSize {
		b.Reset(b.firstPos)
	}
	if want := b.firstPos + uint64(b.count); r.Position != want && b.err == nil {
		b.err = fmt.Errorf("segment: batch record %d has position %d, want %d", b.count, r.Position, want)
	}
	rel = uint32(len(b.buf))
	b.buf = AppendRecord(b.buf, r)
	if n := len(b.buf) - int(rel) - recordHeaderSize; n > b.maxRec {
		b.maxRec = n
	}
	b.count++
	return rel
}

// Count returns the number of records added since Reset.
func (b *Batch) Count() int { return b.count }

// Bytes returns the frame's size on disk so far, its header included.
func (b *Batch) Bytes() int {
	if len(b.buf) < frameHeaderSize {
		return frameHeaderSize
	}
	return len(b.buf)
}

// Loc is the place of one record: uint64(segmentOrdinal)<<40 | byteOffset.
// It is a plain uint64 (an alias), so the index can store it as one.
type Loc = uint64

const locOffsetBits = 40

// MakeLoc packs a segment ordinal and a byte offset (< 1 TiB) into a Loc.
func MakeLoc(seg uint32, off int64) Loc { return uint64(seg)<<locOffsetBits | uint64(off) }

// LocSegment returns the segment ordinal of loc.
func LocSegment(loc Loc) uint32 { return uint32(loc >> locOffsetBits) }

// LocOffset returns the byte offset of loc in its segment.
func LocOffset(loc Loc) int64 { return int64(loc & (1<<locOffsetBits - 1)) }
