package command

import (
	"encoding/binary"
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"
)

// table knows every command by id. It holds every command the log has
// ever recorded, so it is kept small and free of pointers (the garbage
// collector never scans it): per command one map slot of a 128-bit key
// (two seeded hashes of the id) and an 8-byte entry (the $commands version
// of its latest record, and its status) — 24 bytes, about 28 with the
// map's control bytes at full load and up to twice that just after the
// map grows: a million commands cost 30–55 MB. The id itself, the
// fingerprint, times, result and failure are not kept: answering a resend
// or a status query reads the command's latest $commands record back (one
// indexed read), and the record names its id, so two ids whose keys
// collide (chance 2^-128 per pair) are told apart there and refused,
// never confused.
//
// A command that has no record yet is a flight, kept by its id: claimed
// by the caller that runs it; identical sends arriving meanwhile wait for
// done instead of running it again.
type table struct {
	seeds [2]maphash.Seed // per process: the table is rebuilt at Open

	mu      sync.Mutex
	m       map[idKey]entry
	flights map[string]*flight
	// recorded counts the commands with a record (Service.Total).
	recorded atomic.Uint64
}

// idKey is a command id's key in the table.
type idKey [16]byte

// entry is a command with at least one $commands record: the version of
// its latest record << 3 | its status.
type entry uint64

func makeEntry(ver uint64, st Status) entry { return entry(ver<<3 | uint64(st)) }
func (e entry) ver() uint64                 { return uint64(e) >> 3 }
func (e entry) status() Status              { return Status(e & 7) }

// flight is a command claimed but not yet recorded: a sync command being
// decided and written, or an async one being accepted.
type flight struct {
	fp        fingerprint
	typ       string
	createdAt time.Time
	async     bool
	done      chan struct{} // closed when it is recorded or abandoned
}

func newTable() *table {
	return &table{seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}, m: map[idKey]entry{}, flights: map[string]*flight{}}
}

func (t *table) key(id string) idKey {
	var k idKey
	binary.LittleEndian.PutUint64(k[:8], maphash.String(t.seeds[0], id))
	binary.LittleEndian.PutUint64(k[8:], maphash.String(t.seeds[1], id))
	return k
}

// claim makes f the flight of id unless id is known: then it returns the
// entry (known) or the other flight in progress.
func (t *table) claim(id string, f *flight) (e entry, known bool, other *flight) {
	k := t.key(id)
	t.mu.Lock()
	defer t.mu.Unlock()
	if o := t.flights[id]; o != nil {
		return 0, false, o
	}
	if e, ok := t.m[k]; ok {
		return e, true, nil
	}
	t.flights[id] = f
	return 0, false, nil
}

// get returns what the table knows of id.
func (t *table) get(id string) (e entry, known bool, f *flight) {
	k := t.key(id)
	t.mu.Lock()
	defer t.mu.Unlock()
	if f := t.flights[id]; f != nil {
		return 0, false, f
	}
	e, known = t.m[k]
	return e, known, nil
}

// load adds a command read from $commands at Open (single-threaded).
func (t *table) load(id string, ver uint64, st Status) {
	t.m[t.key(id)] = makeEntry(ver, st)
}

// settle records that id's latest record is $commands version ver with
// status, and ends its flight if it has one.
func (t *table) settle(id string, ver uint64, st Status) {
	k := t.key(id)
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.m[k]; !ok {
		t.recorded.Add(1)
	}
	t.m[k] = makeEntry(ver, st)
	if f := t.flights[id]; f != nil {
		delete(t.flights, id)
		close(f.done)
	}
}

// abandon ends id's flight with nothing recorded (a storage error): the
// command is unknown again, and a resend runs it.
func (t *table) abandon(id string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if f := t.flights[id]; f != nil {
		delete(t.flights, id)
		close(f.done)
	}
}

// setStatus changes a recorded command's in-memory status (Pending ⇄
// Processing) without a new record.
func (t *table) setStatus(id string, st Status) {
	k := t.key(id)
	t.mu.Lock()
	defer t.mu.Unlock()
	if e, ok := t.m[k]; ok && !e.status().Final() {
		t.m[k] = makeEntry(e.ver(), st)
	}
}
