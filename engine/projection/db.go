package projection

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/cockroachdb/pebble/v2"
)

// Sizes of the derived-data store. The memtable is large enough that a
// flush of a busy projection (thousands of entries) does not rotate it
// every time; the block cache serves reads of entries evicted from the
// projections' own caches.
const (
	dbMemTable = 32 << 20
	dbCache    = 64 << 20
)

// OpenDB opens (creating) the embedded store for derived data at path.
// pebble's messages go to lg: informational ones at debug level, errors
// as warnings (the store keeps working), fatal ones as errors before the
// panic pebble expects.
func OpenDB(path string, lg *slog.Logger) (*pebble.DB, error) { return OpenDBFS(path, nil, lg) }

// pebbleLogger adapts slog to pebble.Logger.
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	if p.l.Enabled(context.Background(), slog.LevelDebug) {
		p.l.Debug(fmt.Sprintf(format, args...))
	}
}

func (p pebbleLogger) Errorf(format string, args ...any) { p.l.Warn(fmt.Sprintf(format, args...)) }

func (p pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.l.Error(msg)
	panic("pebble: " + msg)
}
