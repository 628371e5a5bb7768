package vfs

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
)

// Mem is an in-memory FS that remembers what was made durable, so tests can
// simulate a power loss with Crash.
//
// The model: a file's contents become durable at File.Sync (the whole file as
// it is then, size included); a name (create, rename, remove) becomes durable
// at SyncDir of its directory. Directories made by MkdirAll are durable at
// once. Everything else is lost by Crash. Mem is safe for concurrent use.
//
// By default a Mem has no size limit; SetCapacity makes it a small disk
// that fills up (ENOSPC) and reports its free space (Space).
type Mem struct {
	mu       sync.Mutex
	dirs     map[string]bool
	names    map[string]*memInode // what the running program sees
	durable  map[string]*memInode // what survives Crash
	capacity int64                // 0: unlimited
}

type memInode struct {
	data   []byte // current contents
	synced []byte // contents as of the last Sync
	// What changed since the last Sync, so Sync copies only that: bytes
	// [dirtyLo, dirtyHi) were written, and the file was at some point cut
	// to minLen.
	dirtyLo, dirtyHi int64
	minLen           int64
}

func newInode() *memInode { return &memInode{dirtyLo: -1} }

func (ino *memInode) written(lo, hi int64) {
	if ino.dirtyLo < 0 || lo < ino.dirtyLo {
		ino.dirtyLo = lo
	}
	ino.dirtyHi = max(ino.dirtyHi, hi)
}

func (ino *memInode) sync() {
	size := int64(len(ino.data))
	keep := min(int64(len(ino.synced)), ino.minLen, size)
	ino.synced = growTo(ino.synced[:keep], size)
	if ino.dirtyLo >= 0 && ino.dirtyLo < size {
		copy(ino.synced[ino.dirtyLo:min(ino.dirtyHi, size)], ino.data[ino.dirtyLo:])
	}
	ino.dirtyLo, ino.dirtyHi, ino.minLen = -1, 0, size
}

// NewMem returns an empty in-memory file system whose root "/" exists.
func NewMem() *Mem {
	return &Mem{
		dirs:    map[string]bool{"/": true, ".": true},
		names:   map[string]*memInode{},
		durable: map[string]*memInode{},
	}
}

// Crash returns a new Mem holding only what was durable in m: file contents
// as of each file's last Sync, names as of the last SyncDir of their
// directory. m itself is left unchanged (its open files keep working on m).
func (m *Mem) Crash() *Mem {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := NewMem()
	c.capacity = m.capacity
	for d := range m.dirs {
		c.dirs[d] = true
	}
	copies := map[*memInode]*memInode{}
	for name, ino := range m.durable {
		n, ok := copies[ino]
		if !ok {
			n = newInode()
			n.data, n.synced, n.minLen = clone(ino.synced), clone(ino.synced), int64(len(ino.synced))
			copies[ino] = n
		}
		c.names[name] = n
		c.durable[name] = n
	}
	return c
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

// SetCapacity makes m a file system of total bytes (0: unlimited, the
// default). The bytes of the files it names count against it; a WriteAt
// that would pass it writes what fits and fails with ENOSPC (a short write,
// as write(2) does); growing a file by Truncate is not limited (sparse). A
// removed file gives its space back at once, even while it is still open.
func (m *Mem) SetCapacity(total int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.capacity = max(total, 0)
}

// Space reports the capacity and what the files leave of it. Without a
// capacity it returns an error matching errors.ErrUnsupported.
func (m *Mem) Space(string) (Space, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.capacity == 0 {
		return Space{}, errors.ErrUnsupported
	}
	return Space{Total: m.capacity, Free: max(m.capacity-m.usedLocked(), 0)}, nil
}

// usedLocked is the bytes of every file m names (each inode once).
func (m *Mem) usedLocked() int64 {
	seen := make(map[*memInode]bool, len(m.names))
	var n int64
	for _, ino := range m.names {
		if !seen[ino] {
			seen[ino] = true
			n += int64(len(ino.data))
		}
	}
	return n
}

func memClean(name string) string { return filepath.Clean(name) }

func (m *Mem) OpenFile(name string, flag int, perm os.FileMode) (File, error) {
	name = memClean(name)
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.dirs[filepath.Dir(name)] {
		return nil, &os.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	if m.dirs[name] {
		return nil, &os.PathError{Op: "open", Path: name, Err: errors.New("is a directory")}
	}
	ino, ok := m.names[name]
	switch {
	case ok && flag&os.O_CREATE != 0 && flag&os.O_EXCL != 0:
		return nil, &os.PathError{Op: "open", Path: name, Err: fs.ErrExist}
	case !ok && flag&os.O_CREATE == 0:
		return nil, &os.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	case !ok:
		ino = newInode()
		m.names[name] = ino
	}
	if flag&os.O_TRUNC != 0 {
		ino.data = ino.data[:0]
		ino.minLen = 0
	}
	acc := flag & (os.O_RDONLY | os.O_WRONLY | os.O_RDWR)
	return &memFile{m: m, ino: ino, name: name, read: acc != os.O_WRONLY, write: acc != os.O_RDONLY}, nil
}

func (m *Mem) Rename(oldpath, newpath string) error {
	oldpath, newpath = memClean(oldpath), memClean(newpath)
	m.mu.Lock()
	defer m.mu.Unlock()
	ino, ok := m.names[oldpath]
	if !ok {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: fs.ErrNotExist}
	}
	if !m.dirs[filepath.Dir(newpath)] {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: fs.ErrNotExist}
	}
	delete(m.names, oldpath)
	m.names[newpath] = ino
	return nil
}

func (m *Mem) Remove(name string) error {
	name = memClean(name)
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.names[name]; !ok {
		return &os.PathError{Op: "remove", Path: name, Err: fs.ErrNotExist}
	}
	delete(m.names, name)
	return nil
}

func (m *Mem) ReadDir(dir string) ([]string, error) {
	dir = memClean(dir)
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.dirs[dir] {
		return nil, &os.PathError{Op: "readdir", Path: dir, Err: fs.ErrNotExist}
	}
	var out []string
	for name := range m.names {
		if filepath.Dir(name) == dir {
			out = append(out, filepath.Base(name))
		}
	}
	for d := range m.dirs {
		if d != dir && filepath.Dir(d) == dir {
			out = append(out, filepath.Base(d))
		}
	}
	sort.Strings(out)
	return out, nil
}

func (m *Mem) MkdirAll(dir string, perm os.FileMode) error {
	dir = memClean(dir)
	m.mu.Lock()
	defer m.mu.Unlock()
	for d := dir; ; d = filepath.Dir(d) {
		if _, isFile := m.names[d]; isFile {
			return &os.PathError{Op: "mkdir", Path: d, Err: errors.New("not a directory")}
		}
		m.dirs[d] = true
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

// SyncDir makes the current names in dir durable (and forgets durable names
// that no longer exist there).
func (m *Mem) SyncDir(dir string) error {
	dir = memClean(dir)
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.dirs[dir] {
		return &os.PathError{Op: "syncdir", Path: dir, Err: fs.ErrNotExist}
	}
	for name := range m.durable {
		if filepath.Dir(name) == dir {
			delete(m.durable, name)
		}
	}
	for name, ino := range m.names {
		if filepath.Dir(name) == dir {
			m.durable[name] = ino
		}
	}
	return nil
}

// Files lists every file name m holds (for tests), sorted.
func (m *Mem) Files() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for name := range m.names {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

type memFile struct {
	m           *Mem
	ino         *memInode
	name        string
	read, write bool
	closed      bool
}

var errClosed = errors.New("vfs: file already closed")

func (f *memFile) check(op string, wantWrite bool) error {
	if f.closed {
		return &os.PathError{Op: op, Path: f.name, Err: errClosed}
	}
	if wantWrite && !f.write || !wantWrite && !f.read {
		return &os.PathError{Op: op, Path: f.name, Err: fs.ErrPermission}
	}
	return nil
}

func (f *memFile) ReadAt(p []byte, off int64) (int, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.check("read", false); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, &os.PathError{Op: "read", Path: f.name, Err: fs.ErrInvalid}
	}
	if off >= int64(len(f.ino.data)) {
		return 0, io.EOF
	}
	n := copy(p, f.ino.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (f *memFile) WriteAt(p []byte, off int64) (int, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.check("write", true); err != nil {
		return 0, err
	}
	if off < 0 {
		return 0, &os.PathError{Op: "write", Path: f.name, Err: fs.ErrInvalid}
	}
	end := off + int64(len(p))
	var err error
	if size := int64(len(f.ino.data)); f.m.capacity > 0 && end > size {
		if room := size + f.m.capacity - f.m.usedLocked(); end > room {
			// Write what fits, then fail, like a short write(2) on a full disk.
			end = max(min(room, end), off)
			p = p[:end-off]
			err = &os.PathError{Op: "write", Path: f.name, Err: syscall.ENOSPC}
			if len(p) == 0 {
				return 0, err
			}
		}
	}
	if end > int64(len(f.ino.data)) {
		f.ino.data = growTo(f.ino.data, end)
	}
	copy(f.ino.data[off:], p)
	f.ino.written(off, end)
	return len(p), err
}

func growTo(b []byte, n int64) []byte {
	if n <= int64(cap(b)) {
		old := len(b)
		b = b[:n]
		clear(b[old:])
		return b
	}
	nb := make([]byte, n, n+n/4)
	copy(nb, b)
	return nb
}

func (f *memFile) Sync() error {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if f.closed {
		return &os.PathError{Op: "sync", Path: f.name, Err: errClosed}
	}
	f.ino.sync()
	return nil
}

func (f *memFile) Truncate(size int64) error {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.check("truncate", true); err != nil {
		return err
	}
	if size < 0 {
		return &os.PathError{Op: "truncate", Path: f.name, Err: fs.ErrInvalid}
	}
	if size <= int64(len(f.ino.data)) {
		f.ino.data = f.ino.data[:size]
		f.ino.minLen = min(f.ino.minLen, size)
	} else {
		f.ino.data = growTo(f.ino.data, size)
	}
	return nil
}

func (f *memFile) Size() (int64, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if f.closed {
		return 0, &os.PathError{Op: "stat", Path: f.name, Err: errClosed}
	}
	return int64(len(f.ino.data)), nil
}

func (f *memFile) Close() error {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if f.closed {
		return &os.PathError{Op: "close", Path: f.name, Err: errClosed}
	}
	f.closed = true
	return nil
}

// IsNotExist reports whether err says a file or directory does not exist
// (for any FS here).
func IsNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
