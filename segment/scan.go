package segment

import (
	"encoding/binary"

	"github.com/cespare/xxhash/v2"
)

// Why a scan of a segment's frames stopped.
type stopReason int

const (
	stopEOF    stopReason = iota // the readable end of the file
	stopZero                     // a frame header with length 0 (or a torn footer): end of the log
	stopFooter                   // a valid footer whose dataEnd is here
	stopBad                      // a frame that does not decode or verify
)

// scanResult is what scanSegment found.
type scanResult struct {
	end     int64  // offset just after the last good frame
	next    uint64 // position expected after the last good frame
	frames  int
	records int
	stop    stopReason
	err     error // the cause, for stopBad
	// intact: for stopBad, the bad frame matched its checksum (its position
	// or records are wrong). Such a frame was written whole: never torn.
	intact bool
}

// scanSegment walks the frames of a segment whose (already checked) header
// says first, from just after the header to size. Each frame must decode,
// match its checksum, start at the expected position and hold exactly its
// count of records; with verify the records' own checksums are checked too.
// If d is not nil, the header and every good frame are fed to it (the
// whole-file digest of [0,end)). The error is an I/O error; damage is
// reported in the result (see classifyStop for what a stop means).
func scanSegment(rd *seqReader, size int64, first uint64, verify bool, d *xxhash.Digest) (scanResult, error) {
	res := scanResult{end: segHeaderSize, next: first}
	if d != nil {
		hb, err := rd.peek(0, segHeaderSize)
		if err != nil {
			return res, err
		}
		d.Reset()
		d.Write(hb)
	}
	for {
		off := res.end
		hb, err := rd.peek(off, frameHeaderSize)
		if err != nil {
			return res, err
		}
		if len(hb) == 0 {
			res.stop = stopEOF
			return res, nil
		}
		if len(hb) >= 4 && string(hb[:4]) == footerMagic[:4] {
			// A footer, or the start of one whose write was cut short (a
			// crash while sealing). No frame can start like this: as a
			// length, "EVTD" is over maxFrameLen.
			if ft, ferr := decodeFooter(hb); ferr == nil && ft.DataEnd == off {
				res.stop = stopFooter
			} else {
				res.stop = stopZero
			}
			return res, nil
		}
		h, err := parseFrameHeader(hb)
		if err == errEndOfLog {
			res.stop = stopZero
			return res, nil
		}
		if err == nil && off+h.size() > size {
			err = errTruncated
		}
		var body []byte
		var fb []byte
		if err == nil {
			if fb, err = rd.peek(off, int(h.size())); err != nil {
				return res, err
			}
			_, body, err = decodeFrame(fb)
		}
		checksumOK := err == nil
		if err == nil && h.FirstPos != res.next {
			err = corruptf("frame starts at position %d, want %d", h.FirstPos, res.next)
		}
		if err == nil {
			err = checkRecords(h, body, verify, nil)
		}
		if err != nil {
			res.stop, res.err, res.intact = stopBad, err, checksumOK
			return res, nil
		}
		if d != nil {
			d.Write(fb)
		}
		res.end += h.size()
		res.next += uint64(h.Count)
		res.frames++
		res.records += int(h.Count)
	}
}

// tailVerdict is classifyStop's answer.
type tailVerdict struct {
	// cause is nil when the stop is the (clean or torn) end of the data: a
	// torn tail is cut at res.end and [res.end, dirtyEnd) zeroed. Otherwise
	// the stop is corruption at res.end and cause says why.
	cause error
	// dirtyEnd is the offset just past the last non-zero byte after res.end
	// (res.end when there is none, or when nothing was inspected).
	dirtyEnd int64
}

// classifyStop decides what the stop of a scan of a segment of the given
// size means: the end of the data, a torn tail, or corruption. It is the one
// place that rule lives (recovery of the last and of sealed segments, and
// Verify, all ask it):
//
//   - stopEOF and stopFooter are a clean end.
//   - A bad frame (stopBad) not in the last segment is corruption outright:
//     only the tail of the last segment can be torn. Nothing is read.
//   - Otherwise (stopZero, or stopBad in the last segment) the bytes after
//     the stop are inspected. A good frame after them, or a bad frame that
//     matched its checksum (intact: written whole, so never torn), makes it
//     corruption; else it is a torn tail (a bad or zeroed frame followed by
//     a good frame is corruption, not a torn tail).
//
// The error is an I/O error.
func classifyStop(rd *seqReader, res scanResult, size int64, last bool) (tailVerdict, error) {
	v := tailVerdict{dirtyEnd: res.end}
	switch {
	case res.stop != stopZero && res.stop != stopBad:
		return v, nil
	case res.stop == stopBad && !last:
		v.cause = res.err
		return v, nil
	}
	dirtyEnd, validAt, err := inspectTail(rd, res.end, size, res.next)
	if err != nil {
		return v, err
	}
	v.dirtyEnd = dirtyEnd
	if validAt >= 0 || res.intact {
		v.cause = res.err
		if v.cause == nil {
			v.cause = corruptf("zeroed frame header followed by a good frame at offset %d", validAt)
		}
	}
	return v, nil
}

// inspectTail looks at [from, size) of a segment after its frames stopped at
// from. It returns dirtyEnd, the offset just past the last non-zero byte
// (from when all is zero), and validAt, the offset of a good frame with a
// position ≥ next somewhere after from (-1: none). A good frame after the
// stop means the stop is damage in the middle of the log, not a torn tail
// (classifyStop decides).
func inspectTail(rd *seqReader, from, size int64, next uint64) (dirtyEnd, validAt int64, err error) {
	dirtyEnd, validAt = from, -1
	firstNZ := int64(-1)
	for off := from; off < size; {
		chunk, err := rd.peek(off, seqBufSize)
		if err != nil {
			return dirtyEnd, validAt, err
		}
		if len(chunk) == 0 {
			break
		}
		if !allZero(chunk) {
			i := 0
			for chunk[i] == 0 {
				i++
			}
			if firstNZ < 0 {
				firstNZ = off + int64(i)
			}
			j := len(chunk) - 1
			for chunk[j] == 0 {
				j--
			}
			dirtyEnd = off + int64(j) + 1
		}
		off += int64(len(chunk))
	}
	if firstNZ < 0 {
		return dirtyEnd, validAt, nil
	}
	c := max(from+1, firstNZ-frameHeaderSize+1)
	for ; c < dirtyEnd; c++ {
		hb, err := rd.peek(c, frameHeaderSize)
		if err != nil {
			return dirtyEnd, validAt, err
		}
		if len(hb) < frameHeaderSize || !plausibleFrameHeader(hb, next, size-c) {
			continue
		}
		h, err := parseFrameHeader(hb)
		if err != nil {
			continue
		}
		fb, err := rd.peek(c, int(h.size()))
		if err != nil {
			return dirtyEnd, validAt, err
		}
		if _, body, err := decodeFrame(fb); err == nil && checkRecords(h, body, false, nil) == nil {
			return dirtyEnd, c, nil
		}
	}
	return dirtyEnd, validAt, nil
}

// plausibleFrameHeader is a cheap filter (no allocation) for inspectTail's
// byte-by-byte search.
func plausibleFrameHeader(b []byte, next uint64, room int64) bool {
	le := binary.LittleEndian
	n := le.Uint32(b)
	pos := le.Uint64(b[8:])
	return n != 0 && int64(n)+frameHeaderSize <= room && le.Uint32(b[4:]) != 0 &&
		le.Uint32(b[16:]) != 0 && le.Uint32(b[20:]) == 0 && pos >= next && pos-next < 1<<32
}
