package derived

import (
	"context"
	"fmt"
	"log/slog"
)

// logger adapts slog to pebble.Logger.
type logger struct{ l *slog.Logger }

// fatal is the panic value of logger.Fatalf, recovered by DB.guard.
type fatal struct{ msg string }

func (p logger) Infof(format string, args ...any) {
	if p.l.Enabled(context.Background(), slog.LevelDebug) {
		p.l.Debug(fmt.Sprintf(format, args...))
	}
}

func (p logger) Errorf(format string, args ...any) { p.l.Warn(fmt.Sprintf(format, args...)) }

// Fatalf logs and panics: pebble must not go on past the call. Outside a
// guarded write (one of pebble's goroutines) the panic ends the process.
func (p logger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.l.Error(msg)
	panic(fatal{msg})
}
