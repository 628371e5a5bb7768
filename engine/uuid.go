package engine

import (
	"encoding/hex"
	"math/rand/v2"
	"time"
)

// newUUIDv7 returns a RFC 9562 version 7 UUID: 48 bits of Unix
// milliseconds, then random bits (math/rand/v2's generator is seeded from
// the OS and cheap to call from many goroutines).
func newUUIDv7() string {
	var u [16]byte
	ms := uint64(time.Now().UnixMilli())
	u[0], u[1], u[2], u[3], u[4], u[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	r1, r2 := rand.Uint64(), rand.Uint64()
	for i := 0; i < 8; i++ {
		u[8+i] = byte(r2 >> (8 * i))
	}
	u[6], u[7] = 0x70|byte(r1&0x0f), byte(r1>>8)
	u[8] = 0x80 | u[8]&0x3f
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
