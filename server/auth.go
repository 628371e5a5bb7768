package server

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"

	"github.com/julienschmidt/httprouter"
)

// Role is what a key may do. Roles nest: read < write < admin.
type Role int

const (
	// RoleNone marks an open route (/health).
	RoleNone Role = iota
	// RoleRead: every GET and the subscriptions.
	RoleRead
	// RoleWrite: appends, commands, replay, snapshots.
	RoleWrite
	// RoleAdmin: reducers, command handlers, schemas, projections.
	RoleAdmin
)

func (r Role) String() string {
	switch r {
	case RoleRead:
		return "read"
	case RoleWrite:
		return "write"
	case RoleAdmin:
		return "admin"
	}
	return "none"
}

func parseRole(s string) (Role, bool) {
	switch s {
	case "read":
		return RoleRead, true
	case "write":
		return RoleWrite, true
	case "admin":
		return RoleAdmin, true
	}
	return RoleNone, false
}

// Keys are the API keys and their roles. Keys are kept only as SHA-256
// hashes; a presented key is hashed and compared with every stored hash in
// constant time, so neither the comparison nor the loop leaks which bytes or
// which key matched.
type Keys struct {
	hashes [][sha256.Size]byte
	roles  []Role
}

// ParseKeys reads a keys file: one "key role" per line, '#' comments and
// blank lines ignored. A key given on two lines is an error naming both
// (never the key): with the last one winning, a pasted line could silently
// change a key's rights.
func ParseKeys(r io.Reader) (*Keys, error) {
	k := &Keys{}
	lineOf := map[[sha256.Size]byte]int{}
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 2 {
			return nil, fmt.Errorf("line %d: want \"key role\"", n)
		}
		role, ok := parseRole(f[1])
		if !ok {
			return nil, fmt.Errorf("line %d: unknown role %q (want read, write or admin)", n, f[1])
		}
		h := sha256.Sum256([]byte(f[0]))
		if first, dup := lineOf[h]; dup {
			return nil, fmt.Errorf("line %d: the key of line %d again (each key once, with one role)", n, first)
		}
		lineOf[h] = n
		k.hashes = append(k.hashes, h)
		k.roles = append(k.roles, role)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(k.hashes) == 0 {
		return nil, fmt.Errorf("no keys in the file")
	}
	return k, nil
}

// LoadKeys reads a keys file from disk.
func LoadKeys(path string) (*Keys, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	k, err := ParseKeys(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

// lookup returns the role of the key whose SHA-256 is h (RoleNone:
// unknown).
func (k *Keys) lookup(h [sha256.Size]byte) Role {
	role := RoleNone
	for i := range k.hashes {
		eq := subtle.ConstantTimeCompare(h[:], k.hashes[i][:])
		role = Role(subtle.ConstantTimeSelect(eq, int(k.roles[i]), int(role)))
	}
	return role
}

// authorize wraps h so that it runs only for a key with at least role.
// SSE routes also take the key as ?access_token= (EventSource cannot set
// headers); it is never logged.
func (s *Server) authorize(role Role, sse bool, h httprouter.Handle) httprouter.Handle {
	return func(w http.ResponseWriter, r *http.Request, ps httprouter.Params) {
		key := ""
		if a := r.Header.Get("Authorization"); a != "" {
			if len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
				key = strings.TrimSpace(a[7:])
			}
		} else if sse {
			key = r.URL.Query().Get("access_token")
		}
		if key == "" {
			writeError(w, errf(http.StatusUnauthorized, codeUnauthorized, "missing API key: send Authorization: Bearer <key>"))
			return
		}
		hash := sha256.Sum256([]byte(key))
		if a, ok := w.(*accessWriter); ok {
			a.key = keyFingerprint(hash) // the access log names the key by it
		}
		got := s.cfg.Auth.lookup(hash)
		if got == RoleNone {
			writeError(w, errf(http.StatusUnauthorized, codeUnauthorized, "unknown API key"))
			return
		}
		if got < role {
			writeError(w, errf(http.StatusForbidden, codeForbidden, "this key has role "+got.String()+"; "+r.Method+" "+r.URL.Path+" needs "+role.String()))
			return
		}
		h(w, r, ps)
	}
}
