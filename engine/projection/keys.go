package projection

import (
	"encoding/json"
	"fmt"
)

// The key layout in the derived-data store (doc.go draws it). Everything of
// this package lives under keyPrefix, so other subsystems (snapshots) can
// share the database. Projection ids never contain 0x00 (they are stream-id
// characters or '$'), so 0x00 ends an id unambiguously: the entries of id
// are exactly the keys in [dataStart(id), dataEnd(id)).
const (
	keyPrefix  = "p/"
	metaPrefix = keyPrefix + "m/" // p/m/<id> → meta (JSON)
	dataPrefix = keyPrefix + "d/" // p/d/<id> 0x00 <key> → entry value (JSON)
)

func metaKey(id string) []byte { return append([]byte(metaPrefix), id...) }

// dataStart is the prefix of id's entries; dataEnd the first key after them.
func dataStart(id string) []byte {
	b := make([]byte, 0, len(dataPrefix)+len(id)+1)
	b = append(b, dataPrefix...)
	b = append(b, id...)
	return append(b, 0x00)
}

func dataEnd(id string) []byte {
	b := dataStart(id)
	b[len(b)-1] = 0x01
	return b
}

// metaEnd is the first key after every meta key.
func metaEnd() []byte { return []byte(keyPrefix + "m0") } // '0' follows '/'

// metaVersion is the version of the meta encoding; a meta record of another
// version is treated as stale (its projection is rebuilt).
const metaVersion = 1

// meta is a projection's checkpoint, written in the same batch as the
// read-model entries it describes: the model holds exactly the matching
// events at positions ≤ Position of generation Generation.
type meta struct {
	V            int    `json:"v"`
	Generation   uint64 `json:"generation"`       // position of the $projections event that started this model
	Position     uint64 `json:"position"`         // last position processed (examined)
	Events       uint64 `json:"events"`           // events applied (matching)
	Keys         uint64 `json:"keys"`             // entries of the model
	Failed       string `json:"failed,omitempty"` // non-empty: stopped in error, with this reason
	RebuildUntil uint64 `json:"rebuildUntil,omitempty"`
	CreatedAt    int64  `json:"createdAt"` // unix ns; system projections only keep it here
	UpdatedAt    int64  `json:"updatedAt"` // unix ns
}

func encodeMeta(m meta) []byte {
	m.V = metaVersion
	b, _ := json.Marshal(m) // plain struct of numbers and strings: cannot fail
	return b
}

func decodeMeta(b []byte) (meta, error) {
	var m meta
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("projection: decoding a checkpoint: %w", err)
	}
	if m.V != metaVersion {
		return m, fmt.Errorf("projection: checkpoint of version %d, want %d", m.V, metaVersion)
	}
	return m, nil
}
