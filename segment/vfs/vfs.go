// Package vfs is the small file-system interface every storage file goes
// through, so tests can inject faults and simulate power loss.
package vfs

import (
	"io"
	"os"
)

// FS is the file system the log, checkpoints and lock use.
type FS interface {
	OpenFile(name string, flag int, perm os.FileMode) (File, error)
	Rename(oldpath, newpath string) error
	Remove(name string) error
	// ReadDir lists the names in dir, sorted.
	ReadDir(dir string) ([]string, error)
	MkdirAll(dir string, perm os.FileMode) error
	// SyncDir fsyncs a directory, making creates, renames and removes in it durable.
	SyncDir(dir string) error
}

// DirOpener is implemented by file systems that can hold a directory open,
// so that fsyncing it later needs no new file descriptor: a segment roll
// must not fail because the process ran out of them (EMFILE) after the
// new segment was renamed into place. FS.SyncDir is the fallback.
type DirOpener interface {
	OpenDir(dir string) (Dir, error)
}

// Dir is an open directory; Sync makes the names in it durable.
type Dir interface {
	Sync() error
	Close() error
}

// File is an open file. Sync is fdatasync where the platform has it.
type File interface {
	io.ReaderAt
	io.WriterAt
	Sync() error
	Truncate(size int64) error
	Size() (int64, error)
	Close() error
}
