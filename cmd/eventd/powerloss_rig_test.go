package main

// The durability rig of TestPowerLoss: both file systems' syncs through
// one mutex, and the crash images cloned between them.

import (
	"os"
	"sync"

	pvfs "github.com/cockroachdb/pebble/v2/vfs"

	"github.com/eventd/eventd/segment/vfs"
)

// ---- the durability rig ----------------------------------------------------

// rig serialises every durability point of the two file systems. Only a
// sync changes what survives a crash (vfs.Mem and pebble's crashable MemFS
// both keep exactly the synced state), so clones taken under mu, between
// two syncs, are one consistent power loss.
type rig struct {
	mu      sync.Mutex
	n       int64 // durability points passed
	logFS   *vfs.Mem
	dbFS    *pvfs.MemFS
	capture func(n int64) bool // clone before point n?
	onClone func(*crashImage)  // called outside mu with each clone
	mark    func() ackMark     // the acknowledgements made so far (called under mu)
	// failLogAt ≥ 0: the log's syncs from that point on fail (the data
	// stays unsynced), as a dying disk's would.
	failLogAt int64
}

// crashImage is the data dir after a power loss at one point.
type crashImage struct {
	point int64
	log   *vfs.Mem
	db    *pvfs.MemFS
	acked ackMark
}

func (r *rig) sync(isLog bool, inner func() error) error {
	r.mu.Lock()
	var img *crashImage
	if r.capture != nil && r.capture(r.n) {
		// pebble first, then the log: both under mu, so no sync between.
		img = &crashImage{point: r.n, db: r.dbFS.CrashClone(pvfs.CrashCloneCfg{}), log: r.logFS.Crash(), acked: r.mark()}
	}
	n := r.n
	r.n++
	var err error
	if isLog && r.failLogAt >= 0 && n >= r.failLogAt {
		err = vfs.ErrInjected
	} else {
		err = inner()
	}
	r.mu.Unlock()
	if img != nil {
		r.onClone(img)
	}
	return err
}

// final clones at the end of a run (after the last sync).
func (r *rig) final() *crashImage {
	r.mu.Lock()
	defer r.mu.Unlock()
	return &crashImage{point: r.n, db: r.dbFS.CrashClone(pvfs.CrashCloneCfg{}), log: r.logFS.Crash(), acked: r.mark()}
}

type rigLogFS struct {
	vfs.FS
	r *rig
}

func (f rigLogFS) OpenFile(name string, flag int, perm os.FileMode) (vfs.File, error) {
	file, err := f.FS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return rigLogFile{file, f.r}, nil
}

func (f rigLogFS) SyncDir(dir string) error {
	return f.r.sync(true, func() error { return f.FS.SyncDir(dir) })
}

type rigLogFile struct {
	vfs.File
	r *rig
}

func (f rigLogFile) Sync() error { return f.r.sync(true, f.File.Sync) }

type rigDBFS struct {
	pvfs.FS
	r *rig
}

func (f rigDBFS) wrap(file pvfs.File, err error) (pvfs.File, error) {
	if err != nil {
		return nil, err
	}
	return rigDBFile{file, f.r}, nil
}

func (f rigDBFS) Create(name string, c pvfs.DiskWriteCategory) (pvfs.File, error) {
	return f.wrap(f.FS.Create(name, c))
}
func (f rigDBFS) Open(name string, o ...pvfs.OpenOption) (pvfs.File, error) {
	return f.wrap(f.FS.Open(name, o...))
}
func (f rigDBFS) OpenReadWrite(name string, c pvfs.DiskWriteCategory, o ...pvfs.OpenOption) (pvfs.File, error) {
	return f.wrap(f.FS.OpenReadWrite(name, c, o...))
}
func (f rigDBFS) OpenDir(name string) (pvfs.File, error) { return f.wrap(f.FS.OpenDir(name)) }
func (f rigDBFS) ReuseForWrite(o, n string, c pvfs.DiskWriteCategory) (pvfs.File, error) {
	return f.wrap(f.FS.ReuseForWrite(o, n, c))
}
func (f rigDBFS) Unwrap() pvfs.FS { return f.FS }

type rigDBFile struct {
	pvfs.File
	r *rig
}

func (f rigDBFile) Sync() error     { return f.r.sync(false, f.File.Sync) }
func (f rigDBFile) SyncData() error { return f.r.sync(false, f.File.SyncData) }
