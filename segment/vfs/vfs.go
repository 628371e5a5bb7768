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

// File is an open file. Sync is fdatasync where the platform has it.
type File interface {
	io.ReaderAt
	io.WriterAt
	Sync() error
	Truncate(size int64) error
	Size() (int64, error)
	Close() error
}
