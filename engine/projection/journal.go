package projection

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/eventd/eventd/engine"
)

// The definitions are events of the system stream $projections, appended
// before the change they describe takes effect, and folded at Open. The
// position of a ProjectionCreated or ProjectionReset event is the
// generation of the read model it starts (see meta).
const (
	journalStream = "$projections"

	evCreated = "ProjectionCreated"
	evPaused  = "ProjectionPaused"
	evResumed = "ProjectionResumed"
	evReset   = "ProjectionReset"
	evDeleted = "ProjectionDeleted"
)

// journalData is the eventData of every $projections event: the id, and
// for ProjectionCreated the whole definition.
type journalData struct {
	ID           string   `json:"projectionId"`
	Name         string   `json:"name,omitempty"`
	Kind         Kind     `json:"kind,omitempty"`
	EventTypes   []string `json:"eventTypes,omitempty"`
	StreamPrefix string   `json:"streamPrefix,omitempty"`
	KeyBy        string   `json:"keyBy,omitempty"`
	Reducer      string   `json:"reducer,omitempty"`
	StartFrom    string   `json:"startFrom,omitempty"`
	// StartPosition (ProjectionCreated): the projection reads the events
	// after it — 0 from the beginning, the head at its creation for now.
	StartPosition uint64 `json:"startPosition"`
}

// journaled is one projection as the journal describes it.
type journaled struct {
	def       Definition
	gen       uint64    // position of its Created or latest Reset event
	start     uint64    // position after which it reads: 0, or its Created event's (startFrom now)
	createdAt time.Time // its Created event's time
	resetAt   time.Time // its latest Reset event's time (zero: never reset)
	paused    bool
}

// journal is the folded $projections stream.
type journal struct {
	user   map[string]*journaled
	system map[string]*journaled // only the reset system projections
}

// readJournal folds $projections.
func readJournal(log Log) (*journal, error) {
	j := &journal{user: map[string]*journaled{}, system: map[string]*journaled{}}
	var from uint64
	for {
		n := 0
		_, _, err := log.ReadStreamFunc(journalStream, from, engine.Forward, 1000, func(e *engine.Event) error {
			n++
			from = e.Version
			return j.apply(e)
		})
		if err != nil {
			return nil, fmt.Errorf("projection: reading %s: %w", journalStream, err)
		}
		if n == 0 {
			return j, nil
		}
	}
}

// apply folds one $projections event.
func (j *journal) apply(e *engine.Event) error {
	var d journalData
	if err := json.Unmarshal(e.Data, &d); err != nil || d.ID == "" {
		return fmt.Errorf("projection: %s event at position %d is malformed: %v", journalStream, e.Position, err)
	}
	if e.Type == evCreated {
		j.user[d.ID] = &journaled{def: d.definition(), gen: e.Position, start: min(d.StartPosition, e.Position), createdAt: e.Timestamp}
		return nil
	}
	p := j.user[d.ID]
	if IsSystem(d.ID) && e.Type == evReset {
		if p = j.system[d.ID]; p == nil {
			p = &journaled{}
			j.system[d.ID] = p
		}
	}
	if p == nil {
		return nil // a change to a projection deleted since (or never created)
	}
	switch e.Type {
	case evPaused:
		p.paused = true
	case evResumed:
		p.paused = false
	case evReset:
		p.gen, p.resetAt = e.Position, e.Timestamp
	case evDeleted:
		delete(j.user, d.ID)
	}
	return nil
}

func (d journalData) definition() Definition {
	return Definition{ID: d.ID, Name: d.Name, Kind: d.Kind, EventTypes: d.EventTypes, StreamPrefix: d.StreamPrefix,
		KeyBy: d.KeyBy, Reducer: d.Reducer, StartFrom: d.StartFrom}
}

// record appends one $projections event and returns its position and time.
// The caller holds Manager.admin: changes are journaled in the order they
// take effect. Every change writes to the derived-data store next, so none
// is journaled while that store cannot take it (derived.DB.Available: a
// full disk or a failure answers at once, and nothing is half done).
func (m *Manager) record(ctx context.Context, typ string, d journalData) (uint64, time.Time, error) {
	if err := m.db.Available(); err != nil {
		return 0, time.Time{}, err
	}
	data, err := json.Marshal(d)
	if err != nil {
		return 0, time.Time{}, err
	}
	res, err := m.log.Append(ctx, journalStream, engine.Any, []engine.Proposed{{Type: typ, Data: data}})
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("projection: recording %s: %w", typ, err)
	}
	return res.LastPosition, res.Timestamp, nil
}

func journalOf(d Definition, start uint64) journalData {
	return journalData{ID: d.ID, Name: d.Name, Kind: d.Kind, EventTypes: d.EventTypes, StreamPrefix: d.StreamPrefix,
		KeyBy: d.KeyBy, Reducer: d.Reducer, StartFrom: d.StartFrom, StartPosition: start}
}
