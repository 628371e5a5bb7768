package projection

import (
	"fmt"
	"log/slog"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// OpenDBFS is OpenDB over the file system fs (nil: the operating system's).
// Tests pass pebble's crashable in-memory FS (vfs.NewCrashableMem) to
// simulate a power loss of the derived-data store: CrashClone keeps only
// what pebble synced.
func OpenDBFS(path string, fs vfs.FS, lg *slog.Logger) (*pebble.DB, error) {
	if lg == nil {
		lg = slog.Default()
	}
	c := pebble.NewCache(dbCache)
	defer c.Unref()
	opts := &pebble.Options{
		FS:           fs,
		Cache:        c,
		MemTableSize: dbMemTable,
		Logger:       pebbleLogger{lg.With("component", "pebble")},
		// A projection catching up rewrites its whole model every few
		// flushes: let more of it gather in L0 before compacting it.
		L0CompactionThreshold: 8,
		L0StopWritesThreshold: 32,
		LBaseMaxBytes:         256 << 20,
	}
	db, err := pebble.Open(path, opts)
	if err != nil {
		return nil, fmt.Errorf("projection: opening %s: %w", path, err)
	}
	return db, nil
}
