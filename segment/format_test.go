package segment

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
)

func TestRecordRoundTrip(t *testing.T) {
	for name, r := range map[string]Record{
		"empty":   {Position: 1},
		"typical": testRecord(42),
		"big varints": {Position: 1<<64 - 1, Version: 1 << 63, Timestamp: -1, SchemaVersion: 1<<32 - 1,
			Flags: 0xff, AppendIndex: 1<<32 - 1, AppendLen: 1<<32 - 1, StreamID: "s", Data: make([]byte, 70000)},
	} {
		t.Run(name, func(t *testing.T) {
			b := AppendRecord([]byte("prefix"), &r)
			if got := len(b) - len("prefix"); got != RecordSize(&r) {
				t.Fatalf("RecordSize = %d, encoded %d", RecordSize(&r), got)
			}
			got, n, err := DecodeRecord(b[len("prefix"):])
			if err != nil {
				t.Fatal(err)
			}
			if n != RecordSize(&r) || !recordsEqual(&got, &r) {
				t.Fatalf("decoded %+v (n=%d), want %+v", got, n, r)
			}
		})
	}
}

func TestDecodeRecordDamage(t *testing.T) {
	r := testRecord(7)
	good := AppendRecord(nil, &r)
	tests := map[string]struct {
		corrupt func(b []byte) []byte
		want    error // errors.Is target
	}{
		"flipped length bit":   {func(b []byte) []byte { b[0] ^= 1; return b }, ErrCorrupt},
		"flipped checksum bit": {func(b []byte) []byte { b[5] ^= 0x10; return b }, ErrCorrupt},
		"flipped payload bit":  {func(b []byte) []byte { b[len(b)-1] ^= 0x80; return b }, ErrCorrupt},
		"truncated header":     {func(b []byte) []byte { return b[:7] }, ErrCorrupt},
		"truncated payload":    {func(b []byte) []byte { return b[:len(b)-1] }, ErrCorrupt},
		"zeroed":               {func(b []byte) []byte { clear(b); return b }, ErrCorrupt},
		"empty":                {func(b []byte) []byte { return nil }, ErrCorrupt},
		"oversize length": {func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b, MaxRecordSize+1)
			return b
		}, ErrCorrupt},
		"length past end": {func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b, uint32(len(b)))
			return b
		}, ErrCorrupt},
		"trailing payload byte, checksum redone": {func(b []byte) []byte {
			b = append(b, 0)
			binary.LittleEndian.PutUint32(b, uint32(len(b)-recordHeaderSize))
			binary.LittleEndian.PutUint64(b[4:], recordChecksum(b[:4], b[recordHeaderSize:]))
			return b
		}, ErrCorrupt},
		"string length past payload, checksum redone": {func(b []byte) []byte {
			b[recordHeaderSize+recordFixedFields+2] = 0x7f // stream id length
			binary.LittleEndian.PutUint64(b[4:], recordChecksum(b[:4], b[recordHeaderSize:]))
			return b
		}, ErrCorrupt},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			b := tc.corrupt(bytes.Clone(good))
			_, _, err := DecodeRecord(b)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

// testFrame encodes a frame of count test records from position first.
func testFrame(first uint64, count int) []byte {
	var recs []byte
	for i := range count {
		r := testRecord(first + uint64(i))
		recs = AppendRecord(recs, &r)
	}
	return encodeFrame(nil, first, uint32(count), recs)
}

func TestFrameRoundTrip(t *testing.T) {
	f := testFrame(10, 5)
	h, body, err := decodeFrame(append(f, 0xee)) // bytes after the frame are not its business
	if err != nil {
		t.Fatal(err)
	}
	if h.FirstPos != 10 || h.Count != 5 || h.Epoch != frameEpoch || h.size() != int64(len(f)) {
		t.Fatalf("header %+v", h)
	}
	n := 0
	if err := checkRecords(h, body, true, func(r *Record, rel int) error {
		checkRecord(t, r, 10+uint64(n))
		n++
		return nil
	}); err != nil || n != 5 {
		t.Fatalf("checkRecords: %v after %d", err, n)
	}
	// The batch builds the same bytes.
	var b Batch
	b.Reset(10)
	for i := range 5 {
		r := testRecord(10 + uint64(i))
		b.Add(&r)
	}
	putFrameHeader(b.buf, uint32(b.Count()), 10)
	if !bytes.Equal(b.buf, f) || b.Bytes() != len(f) {
		t.Fatal("Batch and encodeFrame disagree")
	}
}

func TestDecodeFrameDamage(t *testing.T) {
	good := testFrame(1, 3)
	redo := func(b []byte) []byte { // recompute the frame checksum after an edit
		binary.LittleEndian.PutUint64(b[24:], frameChecksum(b[:24], b[frameHeaderSize:]))
		return b
	}
	tests := map[string]struct {
		corrupt func(b []byte) []byte
		want    error
	}{
		"flipped length bit":   {func(b []byte) []byte { b[0] ^= 1; return b }, ErrCorrupt},
		"flipped count bit":    {func(b []byte) []byte { b[4] ^= 2; return b }, ErrCorrupt},
		"flipped position bit": {func(b []byte) []byte { b[8] ^= 4; return b }, ErrCorrupt},
		"flipped checksum bit": {func(b []byte) []byte { b[30] ^= 1; return b }, ErrCorrupt},
		"flipped record bit":   {func(b []byte) []byte { b[len(b)/2] ^= 8; return b }, ErrCorrupt},
		"truncated header":     {func(b []byte) []byte { return b[:20] }, errTruncated},
		"truncated records":    {func(b []byte) []byte { return b[:len(b)-3] }, errTruncated},
		"zeroed":               {func(b []byte) []byte { clear(b); return b }, errEndOfLog},
		"zeroed short":         {func(b []byte) []byte { clear(b); return b[:9] }, errEndOfLog},
		"oversize length": {func(b []byte) []byte {
			binary.LittleEndian.PutUint32(b, maxFrameLen+1)
			return b
		}, ErrCorrupt},
		"epoch 0":        {func(b []byte) []byte { binary.LittleEndian.PutUint32(b[16:], 0); return redo(b) }, ErrCorrupt},
		"unknown flags":  {func(b []byte) []byte { binary.LittleEndian.PutUint32(b[20:], 1); return redo(b) }, ErrCorrupt},
		"count too high": {func(b []byte) []byte { binary.LittleEndian.PutUint32(b[4:], 4); return redo(b) }, ErrCorrupt},
		"count too low":  {func(b []byte) []byte { binary.LittleEndian.PutUint32(b[4:], 2); return redo(b) }, ErrCorrupt},
		"wrong first position": {func(b []byte) []byte {
			binary.LittleEndian.PutUint64(b[8:], 2)
			return redo(b)
		}, ErrCorrupt},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			b := tc.corrupt(bytes.Clone(good))
			h, body, err := decodeFrame(b)
			if err == nil {
				err = checkRecords(h, body, true, nil)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestSegmentHeaderAndFooter(t *testing.T) {
	h := appendSegHeader(nil, 12345)
	if len(h) != segHeaderSize {
		t.Fatal(len(h))
	}
	if first, err := decodeSegHeader(h); err != nil || first != 12345 {
		t.Fatal(first, err)
	}
	for i := range h {
		b := bytes.Clone(h)
		b[i] ^= 1
		if _, err := decodeSegHeader(b); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("flipped header byte %d: err = %v", i, err)
		}
	}
	ft := appendFooter(nil, 4096, 0xdeadbeef)
	if len(ft) != footerSize {
		t.Fatal(len(ft))
	}
	if got, err := decodeFooter(ft); err != nil || got.DataEnd != 4096 || got.FileHash != 0xdeadbeef {
		t.Fatal(got, err)
	}
	for i := range ft {
		b := bytes.Clone(ft)
		b[i] ^= 1
		if _, err := decodeFooter(b); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("flipped footer byte %d: err = %v", i, err)
		}
	}
}

func TestLoc(t *testing.T) {
	loc := MakeLoc(70000, 1<<39+5)
	if LocSegment(loc) != 70000 || LocOffset(loc) != 1<<39+5 {
		t.Fatal(LocSegment(loc), LocOffset(loc))
	}
}

func TestBatchPositionMismatch(t *testing.T) {
	l := mustOpen(t, nil, t.TempDir(), Options{DisablePrealloc: true})
	defer l.Close()
	var b Batch
	b.Reset(1)
	r := testRecord(2)
	b.Add(&r)
	if _, _, err := l.Write(&b); err == nil {
		t.Fatal("Write accepted a record out of place")
	}
	b.Reset(5)
	r = testRecord(5)
	b.Add(&r)
	if _, _, err := l.Write(&b); err == nil {
		t.Fatal("Write accepted a batch with a gap")
	}
	big := Record{Position: 1, Data: make([]byte, 2<<10)}
	l2 := mustOpen(t, nil, t.TempDir(), Options{MaxRecordSize: 1 << 10, DisablePrealloc: true})
	defer l2.Close()
	b.Reset(1)
	b.Add(&big)
	if _, _, err := l2.Write(&b); !errors.Is(err, ErrRecordTooLarge) {
		t.Fatalf("err = %v, want ErrRecordTooLarge", err)
	}
	// Neither error is sticky: the log still takes good batches.
	writeFrames(t, l, 2, 3, true)
	checkLog(t, l, 6)
}

// FuzzDecodeRecord: DecodeRecord must never panic, and what it accepts must
// re-encode to the same bytes.
func FuzzDecodeRecord(f *testing.F) {
	r := testRecord(3)
	f.Add(AppendRecord(nil, &r))
	f.Add(AppendRecord(nil, &Record{}))
	f.Add([]byte{})
	f.Add(make([]byte, 40))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, n, err := DecodeRecord(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if again := AppendRecord(nil, &r); !bytes.Equal(again, b[:n]) {
			t.Fatalf("re-encoding differs")
		}
	})
}

// FuzzDecodeFrame: decoding a frame and walking its records must never
// panic; what is accepted must re-encode to the same bytes.
func FuzzDecodeFrame(f *testing.F) {
	f.Add(testFrame(1, 3))
	f.Add(testFrame(100, 1))
	f.Add(make([]byte, 64))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, body, err := decodeFrame(b)
		if err != nil {
			return
		}
		var recs []byte
		err = checkRecords(h, body, true, func(r *Record, rel int) error {
			recs = AppendRecord(recs, r)
			return nil
		})
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if again := encodeFrame(nil, h.FirstPos, h.Count, recs); h.Epoch == frameEpoch && !bytes.Equal(again, b[:h.size()]) {
			t.Fatalf("re-encoding differs")
		}
	})
}
