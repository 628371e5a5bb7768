// Package schema is event versioning: per event type, a current schema
// version, a chain of declarative upcasters (v1→v2→…→current) and an
// optional JSON Schema. Its Registry is the engine's Upcaster (every read
// sees events at their type's current version; stored bytes never change)
// and Validator (appends at the current version must match the JSON
// Schema; none may be above it).
//
// # Lifecycle
//
//	reg, err := schema.Open(store)      // folds $schemas
//	store.SetUpcaster(reg)              // before anything reads
//	store.SetValidator(reg)
//	rev, created, changed, err := reg.Put(ctx, def) // registers, durably
//
// # Concurrency
//
// Reads (Upcast, Validate, Get, List, Revision) load an immutable map
// through an atomic pointer and never lock; Put is serialized and
// publishes a new map after its $schemas event is durable.
//
// # Revisions
//
// A type's revision hashes its current version and chain (not its JSON
// Schema, which does not change reads). Snapshots record the revision of
// every type they folded and are used only while those are unchanged.
//
// # Safety
//
// Chains are checked at registration (op fields, contiguous steps, and the
// kinds the chain itself makes certain, see shape.go); what depends on the
// stored data is checked per event, and an event that cannot be upcast
// fails that read with engine.ErrUpcast (readable with upcast=false),
// never the daemon. JSON Schemas may not load anything outside
// themselves ($ref to files or URLs is refused).
package schema
