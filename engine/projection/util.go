package projection

import (
	"crypto/rand"
	"encoding/hex"
	"strconv"
)

// quote quotes s for a message, cut to 80 bytes.
func quote(s string) string {
	if len(s) > 80 {
		s = s[:80] + "…"
	}
	return strconv.Quote(s)
}

func itoa(i int) string { return strconv.Itoa(i) }

// newID makes a projection id for a definition that has none.
func newID() string {
	var b [generatedIDBytes]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return "proj-" + hex.EncodeToString(b[:])
}
