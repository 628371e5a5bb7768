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
// File.WriteAt (Writes) and every File.Sync and FS.SyncDir (Syncs) across
// all files; FailWriteAt(n) and FailSyncAt(n) make the n-th such call
// (0-based) and every later one fail with ErrInjected. A failed WriteAt
// first writes the first half of its bytes, like a torn write. Fault is safe
// for concurrent use.
type Fault struct {
	inner     FS
	writes    atomic.Int64
	syncs     atomic.Int64
	failWrite atomic.Int64 // -1: never
	failSync  atomic.Int64 // -1: never
}

// NewFault wraps inner; nothing fails until FailWriteAt or FailSyncAt.
func NewFault(inner FS) *Fault {
	f := &Fault{inner: inner}
	f.failWrite.Store(-1)
	f.failSync.Store(-1)
	return f
}

// FailWriteAt makes WriteAt call n (counted from 0 since NewFault) and all
// later ones fail. A negative n turns write failures off.
func (f *Fault) FailWriteAt(n int64) { f.failWrite.Store(n) }

// FailSyncAt makes Sync/SyncDir call n (counted from 0) and all later ones
// fail. A negative n turns sync failures off.
func (f *Fault) FailSyncAt(n int64) { f.failSync.Store(n) }

// Writes returns how many WriteAt calls were made (failed ones included).
func (f *Fault) Writes() int64 { return f.writes.Load() }

// Syncs returns how many Sync and SyncDir calls were made (failed ones included).
func (f *Fault) Syncs() int64 { return f.syncs.Load() }

func (f *Fault) syncFails() bool {
	n := f.syncs.Add(1) - 1
	at := f.failSync.Load()
	return at >= 0 && n >= at
}

func (f *Fault) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	file, err := f.inner.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return &faultFile{File: file, fs: f}, nil
}

func (f *Fault) Rename(oldpath, newpath string) error { return f.inner.Rename(oldpath, newpath) }
func (f *Fault) Remove(name string) error             { return f.inner.Remove(name) }
func (f *Fault) ReadDir(dir string) ([]string, error) { return f.inner.ReadDir(dir) }
func (f *Fault) MkdirAll(dir string, perm os.FileMode) error {
	return f.inner.MkdirAll(dir, perm)
}

func (f *Fault) SyncDir(dir string) error {
	if f.syncFails() {
		return ErrInjected
	}
	return f.inner.SyncDir(dir)
}

type faultFile struct {
	File
	fs *Fault
}

func (f *faultFile) WriteAt(p []byte, off int64) (int, error) {
	n := f.fs.writes.Add(1) - 1
	if at := f.fs.failWrite.Load(); at >= 0 && n >= at {
		k, _ := f.File.WriteAt(p[:len(p)/2], off)
		return k, ErrInjected
	}
	return f.File.WriteAt(p, off)
}

func (f *faultFile) Sync() error {
	if f.fs.syncFails() {
		return ErrInjected
	}
	return f.File.Sync()
}
