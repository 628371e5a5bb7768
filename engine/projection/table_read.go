package projection

import (
	"bytes"
	"errors"
	"slices"
	"strings"

	"github.com/cockroachdb/pebble/v2"
)

// Item is one entry of a read model as a query returns it.
type Item struct {
	Key   string
	Value []byte // JSON
}

// lookup returns key's value: the one in memory (encoded under the lock:
// the runner changes values in place), else the committed one.
func (t *table[V]) lookup(key string) ([]byte, error) {
	t.mu.Lock()
	if e, ok := t.entries[key]; ok {
		b, err := t.codec.encode(nil, e.v)
		t.mu.Unlock()
		return b, err
	}
	t.mu.Unlock()
	k := append(slices.Clip(t.prefix), key...)
	b, closer, err := t.db.Get(k)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, ErrKeyNotFound
	}
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	return bytes.Clone(b), nil
}

// scanResult is a page of a scan.
type scanResult struct {
	items   []Item
	next    string // the last key examined, when more may follow
	more    bool
	applied uint64 // events applied, as of the snapshot the page was read from
}

// scan lists entries with keys after `after` in key order, keeping those
// match accepts (nil: all), until limit are kept or budget entries were
// examined. It reads one consistent snapshot: under the lock it copies the
// uncommitted entries (dirty or in flight) and opens a store iterator; the
// copies win over the iterator's older values.
func (t *table[V]) scan(after string, limit, budget int, match func([]byte) bool) (scanResult, error) {
	var res scanResult
	t.mu.Lock()
	over, err := t.overlay(after)
	if err != nil {
		t.mu.Unlock()
		return res, err
	}
	res.applied = t.applied
	lower := append(slices.Clip(t.prefix), after...)
	if after != "" {
		lower = append(lower, 0x00) // the first key after `after`
	}
	it, err := t.db.NewIter(&pebble.IterOptions{LowerBound: lower, UpperBound: dataEndOf(t.prefix)})
	t.mu.Unlock()
	if err != nil {
		return res, err
	}
	defer it.Close()
	valid := it.First()
	advance := false // the iterator's entry was used: move on before the next pick
	examined := 0
	for {
		if advance {
			valid, advance = it.Next(), false
		}
		var key string
		var val []byte
		switch {
		case valid && (len(over) == 0 || string(it.Key()[len(t.prefix):]) <= over[0].Key):
			// val stays valid until the iterator moves: it moves on at the
			// next pick.
			key, advance = string(it.Key()[len(t.prefix):]), true
			if val, err = it.ValueAndErr(); err != nil {
				return res, err
			}
			if len(over) > 0 && over[0].Key == key {
				val, over = over[0].Value, over[1:]
			}
		case len(over) > 0:
			key, val, over = over[0].Key, over[0].Value, over[1:]
		default:
			return res, it.Error()
		}
		if len(res.items) == limit || examined == budget {
			res.more = true
			return res, nil
		}
		examined++
		res.next = key
		if match == nil || match(val) {
			res.items = append(res.items, Item{Key: key, Value: bytes.Clone(val)})
		}
	}
}

// overlay returns the encoded uncommitted entries with keys after `after`,
// in key order. Caller holds mu.
func (t *table[V]) overlay(after string) ([]Item, error) {
	var out []Item
	add := func(e *entry[V]) error {
		if e.key <= after && after != "" {
			return nil
		}
		b, err := t.codec.encode(nil, e.v)
		out = append(out, Item{Key: e.key, Value: b})
		return err
	}
	for _, e := range t.dirty {
		if err := add(e); err != nil {
			return nil, err
		}
	}
	for _, e := range t.inflight {
		if !e.dirty { // a dirty one was added above, with its newer value
			if err := add(e); err != nil {
				return nil, err
			}
		}
	}
	slices.SortFunc(out, func(a, b Item) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// dataEndOf is dataEnd for a data prefix.
func dataEndOf(prefix []byte) []byte {
	b := slices.Clone(prefix)
	b[len(b)-1] = 0x01
	return b
}
