package vfs

import "errors"

// Space is the room on the file system that holds a directory, as
// statfs(2) reports it: Total bytes, and Free bytes an unprivileged writer
// may still use (f_bavail: blocks reserved for root are not counted, so the
// figure is the cautious one even when the daemon runs as root).
type Space struct {
	Total, Free int64
}

// SpaceFS is an FS that can tell how much room it has. The segment
// preallocator asks before it zero-fills a segment, so that it never takes
// space the log itself needs (segment/prealloc.go). OS, a Mem with a
// capacity and a Fault (real or faked figures) implement it.
type SpaceFS interface {
	Space(dir string) (Space, error)
}

// DiskSpace returns the space of the file system holding dir. The error
// matches errors.ErrUnsupported when fs cannot tell (it is not a SpaceFS,
// or the platform has no statfs): callers then go on as if space were
// plentiful.
func DiskSpace(fs FS, dir string) (Space, error) {
	if s, ok := fs.(SpaceFS); ok {
		return s.Space(dir)
	}
	return Space{}, errors.ErrUnsupported
}
