package vfs

import (
	"errors"
	"os"
	"sync/atomic"
)

// ErrInjected is the error a Fault file system returns for an injected
// failure.
var ErrInjected = errors.New("vfs: injected failure")

// Fault wraps an FS and fails chosen calls, for tests. It counts every
// File.WriteAt (Writes), every File.Sync and FS.SyncDir (Syncs) and every
// FS.OpenFile (Opens) across all files; FailWriteAt(n), FailSyncAt(n) and
// FailOpenAt(n, err) make the n-th such call (0-based) and every later one
// fail. The error is ErrInjected, or the one given to FailWriteWith,
// FailSyncWith or FailOpenAt (say syscall.ENOSPC or syscall.EMFILE), which
// comes wrapped in an *os.PathError naming the file, as the os package
// reports it. A failed WriteAt first writes the first half of its bytes,
// like a torn (or short) write. SetSpace fakes the free space Space
// reports. Fault is safe for concurrent use.
type Fault struct {
	inner  FS
	writes atomic.Int64
	syncs  atomic.Int64
	opens  atomic.Int64
	// What to fail: one pointer each, so a call sees the threshold and the
	// error that go with it even while a test changes them.
	failWrite atomic.Pointer[faultRule]
	failSync  atomic.Pointer[faultRule]
	failOpen  atomic.Pointer[faultRule]
	space     atomic.Pointer[Space] // nil: ask inner
}

// faultRule fails call at and every later one with err (nil: ErrInjected),
// wrapped in an *os.PathError when wrap is set. A nil rule fails nothing.
type faultRule struct {
	at   int64
	err  error
	wrap bool
}

func newRule(at int64, err error, wrap bool) *faultRule {
	if at < 0 {
		return nil
	}
	return &faultRule{at: at, err: err, wrap: wrap}
}

// fails reports the error for call n, or nil.
func (r *faultRule) fails(n int64, op, name string) error {
	switch {
	case r == nil || n < r.at:
		return nil
	case r.err == nil:
		return ErrInjected
	case r.wrap:
		return &os.PathError{Op: op, Path: name, Err: r.err}
	}
	return r.err
}

// NewFault wraps inner; nothing fails until FailWriteAt, FailSyncAt or
// FailOpenAt.
func NewFault(inner FS) *Fault { return &Fault{inner: inner} }

// FailWriteAt makes WriteAt call n (counted from 0 since NewFault) and all
// later ones fail with ErrInjected. A negative n turns write failures off.
func (f *Fault) FailWriteAt(n int64) { f.failWrite.Store(newRule(n, nil, false)) }

// FailWriteWith is FailWriteAt with the error to return, e.g.
// syscall.ENOSPC, wrapped in an *os.PathError naming the file.
func (f *Fault) FailWriteWith(n int64, err error) { f.failWrite.Store(newRule(n, err, true)) }

// FailSyncAt makes Sync/SyncDir call n (counted from 0) and all later ones
// fail with ErrInjected. A negative n turns sync failures off.
func (f *Fault) FailSyncAt(n int64) { f.failSync.Store(newRule(n, nil, false)) }

// FailSyncWith is FailSyncAt with the error to return (say syscall.EIO),
// wrapped in an *os.PathError naming the file or directory.
func (f *Fault) FailSyncWith(n int64, err error) { f.failSync.Store(newRule(n, err, true)) }

// FailOpenAt makes OpenFile call n (counted from 0, every call) and all
// later ones fail with err (say syscall.EMFILE; nil: ErrInjected), wrapped
// in an *os.PathError naming the file; nothing is opened or created. A
// negative n turns open failures off.
func (f *Fault) FailOpenAt(n int64, err error) {
	if err == nil {
		err = ErrInjected
	}
	f.failOpen.Store(newRule(n, err, true))
}

// SetSpace makes Space report total and free bytes. A total ≤ 0 goes back
// to asking the inner FS.
func (f *Fault) SetSpace(total, free int64) {
	if total <= 0 {
		f.space.Store(nil)
		return
	}
	f.space.Store(&Space{Total: total, Free: min(max(free, 0), total)})
}

// Space returns what SetSpace set, else the inner FS's figures.
func (f *Fault) Space(dir string) (Space, error) {
	if s := f.space.Load(); s != nil {
		return *s, nil
	}
	return DiskSpace(f.inner, dir)
}

// Writes returns how many WriteAt calls were made (failed ones included).
func (f *Fault) Writes() int64 { return f.writes.Load() }

// Syncs returns how many Sync and SyncDir calls were made (failed ones included).
func (f *Fault) Syncs() int64 { return f.syncs.Load() }

// Opens returns how many OpenFile calls were made (failed ones included).
func (f *Fault) Opens() int64 { return f.opens.Load() }

func (f *Fault) syncErr(name string) error {
	return f.failSync.Load().fails(f.syncs.Add(1)-1, "sync", name)
}

func (f *Fault) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	if err := f.failOpen.Load().fails(f.opens.Add(1)-1, "open", name); err != nil {
		return nil, err
	}
	file, err := f.inner.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: file, fs: f, name: name}, nil
}

func (f *Fault) Rename(oldpath, newpath string) error { return f.inner.Rename(oldpath, newpath) }
func (f *Fault) Remove(name string) error             { return f.inner.Remove(name) }
func (f *Fault) ReadDir(dir string) ([]string, error) { return f.inner.ReadDir(dir) }
func (f *Fault) MkdirAll(dir string, perm os.FileMode) error {
	return f.inner.MkdirAll(dir, perm)
}

func (f *Fault) SyncDir(dir string) error {
	if err := f.syncErr(dir); err != nil {
		return err
	}
	return f.inner.SyncDir(dir)
}

type faultFile struct {
	File
	fs   *Fault
	name string
}

func (f *faultFile) WriteAt(p []byte, off int64) (int, error) {
	if err := f.fs.failWrite.Load().fails(f.fs.writes.Add(1)-1, "write", f.name); err != nil {
		k, _ := f.File.WriteAt(p[:len(p)/2], off)
		return k, err
	}
	return f.File.WriteAt(p, off)
}

func (f *faultFile) Sync() error {
	if err := f.fs.syncErr(f.name); err != nil {
		return err
	}
	return f.File.Sync()
}
