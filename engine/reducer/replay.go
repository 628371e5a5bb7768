package reducer

import (
	"fmt"

	"github.com/eventd/eventd/engine"
)

// Source is what Replay reads: a stream's events in version order. The
// store (*engine.Store) has it.
type Source interface {
	ReadStreamFunc(streamID string, from uint64, dir engine.Direction, limit int, fn func(*engine.Event) error) (next, head uint64, err error)
}

// replayPage is how many events Replay asks the source for at a time.
const replayPage = 10000

// Result is the outcome of Replay.
type Result struct {
	State   State  // never nil
	Version uint64 // the version the state is at (to, or less if the stream ends first)
	Applied uint64 // events folded by this call
}

// Replay folds the events of stream with from < version ≤ to into state
// (nil: the empty state, i.e. from 0) with red, and calls each (when not
// nil) with every folded event after folding it; each must not keep the
// event. An error from red wraps ErrApply; one from each ends the replay
// and is returned as is.
//
// This is the one fold of eventd: the replay endpoint, snapshots and
// command decisions all call it, so they cannot disagree on a state.
func Replay(src Source, stream string, state State, from, to uint64, red Reducer, each func(*engine.Event) error) (Result, error) {
	res := Result{State: state, Version: from}
	var ferr error
	for res.Version < to {
		n := 0
		_, _, err := src.ReadStreamFunc(stream, res.Version, engine.Forward, int(min(to-res.Version, replayPage)), func(e *engine.Event) error {
			if e.Version != res.Version+1 {
				return fmt.Errorf("reducer: replay of %q read version %d after %d", stream, e.Version, res.Version)
			}
			s, err := red.Apply(res.State, e)
			if err != nil {
				return err
			}
			res.State = s
			res.Version = e.Version
			res.Applied++
			n++
			if each != nil {
				if err := each(e); err != nil {
					ferr = err
					return err
				}
			}
			return nil
		})
		if err != nil {
			if ferr != nil {
				return res, ferr
			}
			return res, err
		}
		if n == 0 {
			break // the stream ends before to
		}
	}
	if res.State == nil {
		res.State = State{}
	}
	return res, nil
}
