package snapshot

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/cespare/xxhash/v2"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

// A snapshot value in the derived-data store (little-endian):
//
//	+-----------+---------+-----------+--------------+-----------+-----------------+-------------+
//	| magic "SNP1" | codec u8 | metaLen u32 | meta (JSON) | rawLen u32 | state (encoded) | xxh64 u64 |
//	+-----------+---------+-----------+--------------+-----------+-----------------+-------------+
//
// meta is the Snapshot record without the state; state is the reducer
// state as JSON (keys sorted), compressed with codec (0 none, 1 s2,
// 2 zstd); rawLen is its uncompressed size; the checksum covers every byte
// before it. A value that fails any check is damaged: skipped with a
// warning, never used (the log stays the truth).
const (
	magic      = "SNP1"
	codecNone  = 0
	codecS2    = 1
	codecZstd  = 2
	headerSize = 4 + 1 + 4
	maxState   = 1 << 30 // a decoded state larger than this is refused as damaged
)

// Codec names the compression of new snapshots (reading accepts all).
type Codec string

const (
	CodecNone Codec = "none"
	CodecS2   Codec = "s2"
	CodecZstd Codec = "zstd"
)

// ErrDamaged is wrapped by the errors of a snapshot value that does not
// decode or match its checksum.
var ErrDamaged = errors.New("snapshot: damaged")

var (
	zenc, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1))
	zdec, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(maxState))
)

func codecID(c Codec) byte {
	switch c {
	case CodecNone:
		return codecNone
	case CodecZstd:
		return codecZstd
	}
	return codecS2
}

// encodeValue builds a snapshot value from its meta and its state JSON.
// It sets meta.SizeBytes to the encoded state's size.
func encodeValue(meta *Snapshot, state []byte, c Codec) ([]byte, error) {
	id := codecID(c)
	var body []byte
	switch id {
	case codecS2:
		body = s2.Encode(nil, state)
	case codecZstd:
		body = zenc.EncodeAll(state, nil)
	default:
		body = state
	}
	meta.SizeBytes = len(body)
	mj, err := json.Marshal(meta)
	if err != nil {
		return nil, err
	}
	b := make([]byte, 0, headerSize+len(mj)+4+len(body)+8)
	b = append(b, magic...)
	b = append(b, id)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(mj)))
	b = append(b, mj...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(state)))
	b = append(b, body...)
	return binary.LittleEndian.AppendUint64(b, xxhash.Sum64(b)), nil
}

// decodeMeta checks a value's checksum and framing and returns its meta
// and the encoded state.
func decodeMeta(v []byte) (Snapshot, byte, uint32, []byte, error) {
	var s Snapshot
	if len(v) < headerSize+4+8 || string(v[:4]) != magic {
		return s, 0, 0, nil, fmt.Errorf("%w: bad header", ErrDamaged)
	}
	sum := binary.LittleEndian.Uint64(v[len(v)-8:])
	if xxhash.Sum64(v[:len(v)-8]) != sum {
		return s, 0, 0, nil, fmt.Errorf("%w: checksum mismatch", ErrDamaged)
	}
	codec := v[4]
	ml := int(binary.LittleEndian.Uint32(v[5:]))
	rest := v[headerSize : len(v)-8]
	if ml > len(rest)-4 {
		return s, 0, 0, nil, fmt.Errorf("%w: meta length %d", ErrDamaged, ml)
	}
	if err := json.Unmarshal(rest[:ml], &s); err != nil {
		return s, 0, 0, nil, fmt.Errorf("%w: meta: %v", ErrDamaged, err)
	}
	raw := binary.LittleEndian.Uint32(rest[ml:])
	return s, codec, raw, rest[ml+4:], nil
}

// decodeState returns the state JSON of a value's encoded body.
func decodeState(codec byte, raw uint32, body []byte) ([]byte, error) {
	if raw > maxState {
		return nil, fmt.Errorf("%w: state of %d bytes", ErrDamaged, raw)
	}
	var out []byte
	var err error
	switch codec {
	case codecNone:
		out = body
	case codecS2:
		if n, e := s2.DecodedLen(body); e != nil || n != int(raw) {
			return nil, fmt.Errorf("%w: s2 length", ErrDamaged)
		}
		out, err = s2.Decode(make([]byte, raw), body)
	case codecZstd:
		out, err = zdec.DecodeAll(body, make([]byte, 0, raw))
	default:
		return nil, fmt.Errorf("%w: codec %d", ErrDamaged, codec)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDamaged, err)
	}
	if len(out) != int(raw) {
		return nil, fmt.Errorf("%w: state is %d bytes, want %d", ErrDamaged, len(out), raw)
	}
	return out, nil
}
