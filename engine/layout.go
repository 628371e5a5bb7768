package engine

import "path/filepath"

// The data directory (docs/format.md "Data directory"). Every name under
// it is defined here, so the engine, the subsystems and the operator
// commands (verify, dump) agree on them.
//
//	<dir>/LOCK               flock: one process per data dir
//	<dir>/log/*.seg          the segment log
//	<dir>/index/checkpoint   index checkpoint + dedupe table
//	<dir>/projections/       embedded store for derived data (read models,
//	                         snapshots), rebuilt from the log when lost
const (
	LockFile       = "LOCK"
	LogDir         = "log"
	IndexDir       = "index"
	CheckpointFile = "checkpoint" // in IndexDir
	ProjectionsDir = "projections"
)

// Layout names the paths of one data directory.
type Layout struct{ Dir string }

func (l Layout) Lock() string        { return filepath.Join(l.Dir, LockFile) }
func (l Layout) Log() string         { return filepath.Join(l.Dir, LogDir) }
func (l Layout) Index() string       { return filepath.Join(l.Dir, IndexDir) }
func (l Layout) Checkpoint() string  { return filepath.Join(l.Dir, IndexDir, CheckpointFile) }
func (l Layout) Projections() string { return filepath.Join(l.Dir, ProjectionsDir) }
