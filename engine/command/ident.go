package command

import (
	"crypto/sha256"
	"encoding/hex"
	"math/rand/v2"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/eventd/eventd/engine/jsonv"
)

// A command's identity is its id plus a fingerprint of what it asks: the
// command type and commandData in canonical form (object keys sorted,
// whitespace and string escapes normalised, numbers as spelled: 1 and 1.0
// differ). Metadata, expectedVersion and async do not count, so a retry
// that changes only them is the same command.

// fingerprint is the first 128 bits of SHA-256 over type, NUL, canonical
// data: a resend with other data can be told apart with certainty for any
// practical purpose, and it costs 32 bytes of hex in each record.
type fingerprint [16]byte

func (f fingerprint) String() string { return hex.EncodeToString(f[:]) }

func parseFingerprint(s string) (fingerprint, bool) {
	var f fingerprint
	if len(s) != 2*len(f) {
		return f, false
	}
	_, err := hex.Decode(f[:], []byte(s))
	return f, err == nil
}

func fingerprintOf(typ string, data map[string]any) (fingerprint, error) {
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	b := append(append((*bp)[:0], typ...), 0)
	b, err := jsonv.AppendObject(b, data) // keys sorted: canonical
	*bp = b
	if err != nil {
		return fingerprint{}, err
	}
	sum := sha256.Sum256(b)
	var f fingerprint
	copy(f[:], sum[:])
	return f, nil
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// validID checks a client command id: 1–MaxIDLen bytes of UTF-8.
func validID(id string) bool {
	return len(id) > 0 && len(id) <= MaxIDLen && utf8.ValidString(id)
}

// newID returns an RFC 9562 version 7 UUID (48 bits of Unix
// milliseconds, then random bits), so server-made ids sort by time.
func newID() string {
	var u [16]byte
	ms := uint64(time.Now().UnixMilli())
	for i := 0; i < 6; i++ {
		u[i] = byte(ms >> (40 - 8*i))
	}
	r1, r2 := rand.Uint64(), rand.Uint64()
	for i := 0; i < 8; i++ {
		u[8+i] = byte(r2 >> (8 * i))
	}
	u[6], u[7] = 0x70|byte(r1&0x0f), byte(r1>>8) // version 7
	u[8] = 0x80 | u[8]&0x3f                      // variant 10
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}
