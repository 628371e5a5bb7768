package vfs

import (
	"bufio"
	"io"
	"os"
	"path/filepath"
)

// WriteFileAtomic replaces the file at path with what write produces, so
// that after a crash at any point the file holds either its old contents or
// all of the new ones, never a mix:
//
//  1. write to path+".tmp" (created or truncated) through a buffer,
//  2. fsync the temp file,
//  3. rename it over path,
//  4. fsync the directory, so the rename itself is durable.
//
// A leftover path+".tmp" from a crash is harmless: the next call truncates
// it. On error path is untouched and the temp file is removed (best
// effort), so a write that failed on a full disk gives its space back.
func WriteFileAtomic(fs FS, path string, write func(w io.Writer) error) (err error) {
	tmp := path + ".tmp"
	f, err := fs.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	renamed := false
	defer func() {
		if err != nil && !renamed {
			_ = fs.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(&Writer{F: f}, 1<<20)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fs.Rename(tmp, path)
		renamed = err == nil
	}
	if err == nil {
		err = fs.SyncDir(filepath.Dir(path))
	}
	return err
}

// ReadFile returns the whole contents of the file at path.
func ReadFile(fs FS, path string) ([]byte, error) {
	f, err := fs.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return nil, err
	}
	b := make([]byte, size)
	n, err := f.ReadAt(b, 0)
	if err != nil && err != io.EOF {
		return nil, err
	}
	return b[:n], nil
}

// Writer adapts a File to io.Writer: sequential writes from offset Off.
type Writer struct {
	F   File
	Off int64
}

func (w *Writer) Write(p []byte) (int, error) {
	n, err := w.F.WriteAt(p, w.Off)
	w.Off += int64(n)
	return n, err
}
