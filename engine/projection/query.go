package projection

import (
	"context"
	"fmt"
)

// Limits of list queries.
const (
	// MaxWhere bounds the conditions of one list query.
	MaxWhere = 64
	// scanBudget bounds the entries one list query examines; past it the
	// page ends early, with a cursor to go on from.
	scanBudget = 1 << 20
)

// Entry is one entry of a read model with the position it reflects.
type Entry struct {
	Position uint64 // the projection's position: the value holds every event up to it
	Key      string
	Value    []byte // JSON
}

// Query is a list query over a read model.
type Query struct {
	After string // list keys after this one (a cursor: Page.Next); "": from the first
	Limit int    // at most this many items (≥ 1)
	Where []Cond // every condition must hold
}

// Page is the answer to a list query.
type Page struct {
	Position uint64 // as in Entry
	Items    []Item // in key order
	// More: entries may follow; Next is the key to pass as Query.After.
	// Set when the page is full, or when it stopped after examining the
	// most entries one query may (then it may even be empty).
	More bool
	Next string
}

// Wait blocks until projection id has processed position pos (its
// queries then reflect every event up to pos). It fails with ctx.Err()
// when ctx ends first, ErrFailed when the projection is in error,
// ErrNotFound when it is deleted, ErrClosed when the manager closes.
// Woken by the projection's progress, never by polling.
func (m *Manager) Wait(ctx context.Context, id string, pos uint64) error {
	p, err := m.get(id)
	if err != nil {
		return err
	}
	for {
		ch := p.progress.Wait()
		if p.pos.Load() >= pos {
			return nil
		}
		p.mu.Lock()
		deleted, failed := p.deleted, p.failed
		p.mu.Unlock()
		switch {
		case deleted:
			return fmt.Errorf("%w: %s", ErrNotFound, quote(id))
		case failed != "":
			return fmt.Errorf("%w: %s", ErrFailed, failed)
		case m.isClosed():
			return ErrClosed
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Lookup returns the entry key of projection id's read model
// (ErrKeyNotFound if it has none).
func (m *Manager) Lookup(id, key string) (Entry, error) {
	p, err := m.get(id)
	if err != nil {
		return Entry{}, err
	}
	pos := p.pos.Load() // before the model: the value holds at least this
	md, err := p.current()
	if err != nil {
		return Entry{}, err
	}
	v, err := md.lookup(key)
	if err != nil {
		return Entry{}, err
	}
	return Entry{Position: pos, Key: key, Value: v}, nil
}

// Query lists entries of projection id's read model in key order.
func (m *Manager) Query(id string, q Query) (Page, error) {
	if q.Limit < 1 {
		return Page{}, invalid("limit must be at least 1")
	}
	if len(q.Where) > MaxWhere {
		return Page{}, invalid("at most %d where conditions", MaxWhere)
	}
	for _, c := range q.Where {
		if c.Field == "" {
			return Page{}, invalid("a where condition needs a field: where=<field>:<value>")
		}
	}
	p, err := m.get(id)
	if err != nil {
		return Page{}, err
	}
	pos := p.pos.Load()
	md, err := p.current()
	if err != nil {
		return Page{}, err
	}
	var match func([]byte) bool
	if len(q.Where) > 0 {
		match = func(v []byte) bool { return matchAll(v, q.Where) }
	}
	res, err := md.scan(q.After, q.Limit, scanBudget, match)
	if err != nil {
		return Page{}, err
	}
	return Page{Position: pos, Items: res.items, More: res.more, Next: res.next}, nil
}
