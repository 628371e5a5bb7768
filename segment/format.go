package segment

import (
	"encoding/binary"
	"fmt"

	"github.com/cespare/xxhash/v2"
)

// The segment file format. Every constant in this block is part of the
// on-disk format: changing one makes existing logs unreadable. All integers
// are little-endian. docs/format.md mirrors this.
//
// A segment file, named %020d.seg after the position of its first event:
//
//	+----------------+---------+---------+-----+---------+----------------------------+
//	| segment header | frame 0 | frame 1 | ... | frame n | active: zeros (or EOF)     |
//	|    32 bytes    |         |         |     |         | sealed: footer, 32 B, EOF  |
//	+----------------+---------+---------+-----+---------+----------------------------+
//
// Segment header (32 bytes):
//
//	0             8             12          16               24             32
//	+-------------+-------------+-----------+----------------+--------------+
//	| magic       | version u32 | flags u32 | first position | xxh64 of     |
//	| EVTDSEG\x00 | (= 1)       | (= 0)     | u64            | bytes [0,24) |
//	+-------------+-------------+-----------+----------------+--------------+
//
// Frame = one group-commit batch, the unit of atomicity (32-byte header, then
// its records back to back):
//
//	0           4          8                16         20         24            32
//	+-----------+----------+----------------+----------+----------+-------------+--------------+
//	| length u32| count u32| first position | epoch u32| flags u32| checksum u64| records ...  |
//	| (> 0)     | (> 0)    | u64            | (= 1)    | (0)      |             | length bytes |
//	+-----------+----------+----------------+----------+----------+-------------+--------------+
//
//	checksum = xxh64(header bytes [0,24) || records)
//
// A frame header whose length field is 0 marks the end of the log: the rest
// of an active segment is zero-filled. A torn tail is a last frame whose
// bytes stop early (EOF or zeros) or do not match its checksum.
//
// Footer of a sealed segment (32 bytes, the file ends right after it):
//
//	0             8             16                     24                  32
//	+-------------+-------------+----------------------+-------------------+
//	| magic       | dataEnd u64 | xxh64 of file bytes  | xxh64 of footer   |
//	| EVTDFTR\x00 | (= offset   | [0,dataEnd)          | bytes [0,24)      |
//	|             |  of footer) |                      |                   |
//	+-------------+-------------+----------------------+-------------------+
const (
	segHeaderSize   = 32
	frameHeaderSize = 32
	footerSize      = 32
	formatVersion   = 1
	// frameEpoch is the epoch written in every frame for now (later the raft term).
	frameEpoch  = 1
	segMagic    = "EVTDSEG\x00"
	footerMagic = "EVTDFTR\x00"
	// maxFrameLen bounds a frame's length field before anything is read or
	// allocated for it.
	maxFrameLen = 1 << 30
)

// segName is the file name of the segment whose first event has position first.
func segName(first uint64) string { return fmt.Sprintf("%020d.seg", first) }

// appendSegHeader appends the 32-byte segment header.
func appendSegHeader(dst []byte, first uint64) []byte {
	start := len(dst)
	dst = append(dst, segMagic...)
	dst = binary.LittleEndian.AppendUint32(dst, formatVersion)
	dst = binary.LittleEndian.AppendUint32(dst, 0)
	dst = binary.LittleEndian.AppendUint64(dst, first)
	return binary.LittleEndian.AppendUint64(dst, xxhash.Sum64(dst[start:start+24]))
}

// decodeSegHeader checks a segment header and returns its first position.
func decodeSegHeader(b []byte) (first uint64, err error) {
	if len(b) < segHeaderSize {
		return 0, errTruncated
	}
	if string(b[:8]) != segMagic {
		return 0, corruptf("bad segment magic %q", b[:8])
	}
	if xxhash.Sum64(b[:24]) != binary.LittleEndian.Uint64(b[24:32]) {
		return 0, corruptf("segment header checksum mismatch")
	}
	if v := binary.LittleEndian.Uint32(b[8:]); v != formatVersion {
		return 0, corruptf("unknown segment format version %d", v)
	}
	if f := binary.LittleEndian.Uint32(b[12:]); f != 0 {
		return 0, corruptf("unknown segment flags %#x", f)
	}
	return binary.LittleEndian.Uint64(b[16:]), nil
}

// frameHeader is a decoded frame header.
type frameHeader struct {
	Length   uint32 // bytes of records after the header
	Count    uint32 // events (records) in the frame
	FirstPos uint64 // position of the first record
	Epoch    uint32
	Flags    uint32
	Checksum uint64
}

// lastPos is the position of the frame's last record.
func (h frameHeader) lastPos() uint64 { return h.FirstPos + uint64(h.Count) - 1 }

// size is the frame's size on disk, header included.
func (h frameHeader) size() int64 { return frameHeaderSize + int64(h.Length) }

// putFrameHeader fills b[0:32] with the header of a frame whose records are
// b[32:], computing the checksum.
func putFrameHeader(b []byte, count uint32, first uint64) {
	binary.LittleEndian.PutUint32(b[0:], uint32(len(b)-frameHeaderSize))
	binary.LittleEndian.PutUint32(b[4:], count)
	binary.LittleEndian.PutUint64(b[8:], first)
	binary.LittleEndian.PutUint32(b[16:], frameEpoch)
	binary.LittleEndian.PutUint32(b[20:], 0)
	binary.LittleEndian.PutUint64(b[24:], frameChecksum(b[:24], b[frameHeaderSize:]))
}

func frameChecksum(head24, records []byte) uint64 {
	var d xxhash.Digest
	d.Reset()
	d.Write(head24)
	d.Write(records)
	return d.Sum64()
}

// encodeFrame appends a frame holding the given encoded records (count of
// them, the first at position first). Pure; only tests use it, as a
// reference for Batch, which is what Write encodes with.
func encodeFrame(dst []byte, first uint64, count uint32, records []byte) []byte {
	start := len(dst)
	dst = append(dst, make([]byte, frameHeaderSize)...)
	dst = append(dst, records...)
	putFrameHeader(dst[start:], count, first)
	return dst
}

// parseFrameHeader decodes and sanity-checks the 32 header bytes at b. It
// returns errEndOfLog for a zero length field and errTruncated when b is
// shorter than a header.
func parseFrameHeader(b []byte) (frameHeader, error) {
	if len(b) < frameHeaderSize {
		if allZero(b) {
			return frameHeader{}, errEndOfLog
		}
		return frameHeader{}, errTruncated
	}
	h := frameHeader{
		Length:   binary.LittleEndian.Uint32(b[0:]),
		Count:    binary.LittleEndian.Uint32(b[4:]),
		FirstPos: binary.LittleEndian.Uint64(b[8:]),
		Epoch:    binary.LittleEndian.Uint32(b[16:]),
		Flags:    binary.LittleEndian.Uint32(b[20:]),
		Checksum: binary.LittleEndian.Uint64(b[24:]),
	}
	switch {
	case h.Length == 0:
		return h, errEndOfLog
	case h.Length > maxFrameLen:
		return h, corruptf("frame length %d over limit", h.Length)
	case h.Count == 0 || uint64(h.Count) > uint64(h.Length)/minRecordSize:
		return h, corruptf("frame count %d does not fit length %d", h.Count, h.Length)
	case h.Epoch == 0:
		return h, corruptf("frame epoch 0")
	case h.Flags != 0:
		return h, corruptf("unknown frame flags %#x", h.Flags)
	case h.FirstPos == 0 || h.FirstPos+uint64(h.Count) < h.FirstPos:
		return h, corruptf("bad frame position %d", h.FirstPos)
	}
	return h, nil
}

// parseDataFrameHeader is parseFrameHeader where the segment's data says a
// frame is (before its end): a zero length there is damage
// (errZeroInData), not the end of the log.
func parseDataFrameHeader(b []byte) (frameHeader, error) {
	h, err := parseFrameHeader(b)
	if err == errEndOfLog {
		err = errZeroInData
	}
	return h, err
}

// decodeFrame decodes the frame at the start of b and verifies its checksum
// (not the records inside; see checkRecords). It returns the header and the
// records bytes, which alias b.
func decodeFrame(b []byte) (frameHeader, []byte, error) {
	h, err := parseFrameHeader(b)
	if err != nil {
		return h, nil, err
	}
	if uint64(len(b)) < uint64(h.size()) {
		return h, nil, errTruncated
	}
	body := b[frameHeaderSize:h.size()]
	if frameChecksum(b[:24], body) != h.Checksum {
		return h, nil, corruptf("frame checksum mismatch")
	}
	return h, body, nil
}

// checkRecords walks the records of a frame: they must fill body exactly,
// number h.Count and carry consecutive positions from h.FirstPos. With
// verify, every record's own checksum is checked too (the frame checksum
// already covers them). fn, if not nil, sees each record and its offset in
// body.
func checkRecords(h frameHeader, body []byte, verify bool, fn func(r *Record, rel int) error) error {
	off := 0
	var n uint32
	for off < len(body) {
		r, k, err := decodeRecord(body[off:], verify)
		if err != nil {
			return err
		}
		if n >= h.Count {
			return corruptf("frame holds more than %d records", h.Count)
		}
		if r.Position != h.FirstPos+uint64(n) {
			return corruptf("record position %d, want %d", r.Position, h.FirstPos+uint64(n))
		}
		if fn != nil {
			if err := fn(&r, off); err != nil {
				return err
			}
		}
		off += k
		n++
	}
	if n != h.Count {
		return corruptf("frame holds %d records, header says %d", n, h.Count)
	}
	return nil
}

// footer is a decoded segment footer.
type footer struct {
	DataEnd  int64
	FileHash uint64
}

func appendFooter(dst []byte, dataEnd int64, fileHash uint64) []byte {
	start := len(dst)
	dst = append(dst, footerMagic...)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(dataEnd))
	dst = binary.LittleEndian.AppendUint64(dst, fileHash)
	return binary.LittleEndian.AppendUint64(dst, xxhash.Sum64(dst[start:start+24]))
}

// decodeFooter checks the footer bytes at b (its own checksum only).
func decodeFooter(b []byte) (footer, error) {
	if len(b) < footerSize {
		return footer{}, errTruncated
	}
	if string(b[:8]) != footerMagic {
		return footer{}, corruptf("no footer")
	}
	if xxhash.Sum64(b[:24]) != binary.LittleEndian.Uint64(b[24:32]) {
		return footer{}, corruptf("footer checksum mismatch")
	}
	end := binary.LittleEndian.Uint64(b[8:])
	if end < segHeaderSize || end > 1<<62 {
		return footer{}, corruptf("footer data end %d", end)
	}
	return footer{DataEnd: int64(end), FileHash: binary.LittleEndian.Uint64(b[16:])}, nil
}

// allZero reports whether b holds only zero bytes.
func allZero(b []byte) bool {
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b) != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
