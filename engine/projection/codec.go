package projection

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/eventd/eventd/engine/jsonv"
	"github.com/eventd/eventd/engine/reducer"
)

// The codecs of the read models' values. Encoders append compact JSON
// objects by hand (a flush encodes every changed entry, so they are on the
// hot path); decoders run only when an entry is loaded back from the store.

// counterCodec: a count, {"count": N} ($by-event-type, count projections).
type counterCodec struct{}

func (counterCodec) encode(dst []byte, n uint64) ([]byte, error) {
	dst = append(dst, `{"count":`...)
	dst = strconv.AppendUint(dst, n, 10)
	return append(dst, '}'), nil
}

func (counterCodec) clone(n uint64) uint64 { return n }

func (counterCodec) decode(b []byte) (uint64, error) {
	var v struct{ Count uint64 }
	err := decodeInto(b, &v)
	return v.Count, err
}

// catStats is a value of $by-category.
type catStats struct{ events, streams uint64 }

type catCodec struct{}

func (catCodec) encode(dst []byte, v catStats) ([]byte, error) {
	dst = append(dst, `{"events":`...)
	dst = strconv.AppendUint(dst, v.events, 10)
	dst = append(dst, `,"streams":`...)
	dst = strconv.AppendUint(dst, v.streams, 10)
	return append(dst, '}'), nil
}

func (catCodec) clone(v catStats) catStats { return v }

func (catCodec) decode(b []byte) (catStats, error) {
	var v struct{ Events, Streams uint64 }
	err := decodeInto(b, &v)
	return catStats{v.Events, v.Streams}, err
}

// streamStats is a value of $stream-stats; times are unix nanoseconds.
type streamStats struct {
	version, events, first, last uint64
	created, updated             int64
}

type streamCodec struct{}

func (streamCodec) encode(dst []byte, v streamStats) ([]byte, error) {
	dst = append(dst, `{"version":`...)
	dst = strconv.AppendUint(dst, v.version, 10)
	dst = append(dst, `,"events":`...)
	dst = strconv.AppendUint(dst, v.events, 10)
	dst = append(dst, `,"firstPosition":`...)
	dst = strconv.AppendUint(dst, v.first, 10)
	dst = append(dst, `,"lastPosition":`...)
	dst = strconv.AppendUint(dst, v.last, 10)
	dst = append(dst, `,"createdAt":`...)
	dst = appendTime(dst, v.created)
	dst = append(dst, `,"updatedAt":`...)
	dst = appendTime(dst, v.updated)
	return append(dst, '}'), nil
}

func (streamCodec) clone(v streamStats) streamStats { return v }

func (streamCodec) decode(b []byte) (streamStats, error) {
	var v struct {
		Version, Events, FirstPosition, LastPosition uint64
		CreatedAt, UpdatedAt                         string
	}
	if err := decodeInto(b, &v); err != nil {
		return streamStats{}, err
	}
	c, err1 := time.Parse(reducer.TimeLayout, v.CreatedAt)
	u, err2 := time.Parse(reducer.TimeLayout, v.UpdatedAt)
	if err1 != nil || err2 != nil {
		return streamStats{}, fmt.Errorf("projection: stored stream stats with bad times: %s", b)
	}
	return streamStats{v.Version, v.Events, v.FirstPosition, v.LastPosition, c.UnixNano(), u.UnixNano()}, nil
}

// stateCodec: a reducer's state.
type stateCodec struct{}

func (stateCodec) encode(dst []byte, s reducer.State) ([]byte, error) {
	return reducer.EncodeState(dst, s)
}

func (stateCodec) decode(b []byte) (reducer.State, error) { return reducer.DecodeObject(b) }

func (stateCodec) clone(s reducer.State) reducer.State {
	if s == nil {
		return nil
	}
	return jsonv.Copy(s).(map[string]any)
}

func decodeInto(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("projection: decoding a stored entry: %w", err)
	}
	return nil
}

// appendTime appends unix-ns t as a quoted time in the API's format.
func appendTime(dst []byte, ns int64) []byte {
	dst = append(dst, '"')
	return append(reducer.AppendTime(dst, time.Unix(0, ns)), '"')
}
