package reducer

import (
	"slices"
	"strings"
	"sync"
)

// Registry says which reducer a stream uses: the one registered for its
// category, else Default. Reducers are also found by name (a replay may
// name one). It is safe for concurrent use; a registered reducer replaces
// the earlier one of that name.
type Registry struct {
	log   Log        // nil: registrations are not persisted
	putMu sync.Mutex // serializes Put: the log's order is the registry's

	mu         sync.RWMutex
	byName     map[string]Reducer
	byCategory map[string]Reducer
	catOf      map[string]string // name → its category ("" for none)
}

// NewRegistry returns a registry that knows Default.
func NewRegistry() *Registry {
	return &Registry{
		byName:     map[string]Reducer{DefaultName: Default},
		byCategory: map[string]Reducer{},
		catOf:      map[string]string{},
	}
}

// Register adds or replaces red under its name, bound to category (empty:
// usable only by name), in memory only (Put persists). A category has at
// most one reducer: binding a new one unbinds the old.
func (r *Registry) Register(red Reducer, category string) { r.register(red, category) }

func (r *Registry) register(red Reducer, category string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	name := red.Name()
	if old := r.catOf[name]; old != "" && r.byCategory[old] != nil && r.byCategory[old].Name() == name {
		delete(r.byCategory, old)
	}
	if category != "" {
		if cur, ok := r.byCategory[category]; ok && cur.Name() != name {
			r.catOf[cur.Name()] = "" // displaced: usable by name only
		}
		r.byCategory[category] = red
	}
	r.byName[name] = red
	r.catOf[name] = category
}

// Lookup returns the reducer called name.
func (r *Registry) Lookup(name string) (Reducer, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	red, ok := r.byName[name]
	return red, ok
}

func (r *Registry) forCategory(category string) Reducer {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.byCategory[category]
}

// ForStream returns the reducer of the stream's category, else Default.
func (r *Registry) ForStream(streamID string) Reducer {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if red, ok := r.byCategory[Category(streamID)]; ok {
		return red
	}
	return r.byName[DefaultName]
}

// Entry is one registered reducer as listed.
type Entry struct {
	Reducer  Reducer
	Category string
}

// List returns every reducer, Default included, in name order.
func (r *Registry) List() []Entry {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]Entry, 0, len(r.byName))
	for name, red := range r.byName {
		out = append(out, Entry{Reducer: red, Category: r.catOf[name]})
	}
	sortEntries(out)
	return out
}

func sortEntries(es []Entry) {
	slices.SortFunc(es, func(a, b Entry) int { return strings.Compare(a.Reducer.Name(), b.Reducer.Name()) })
}
