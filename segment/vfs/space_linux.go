//go:build linux

package vfs

import (
	"os"
	"syscall"
)

// Space is statfs(2) of dir: total blocks and the blocks available to
// unprivileged users, in fragment-size units.
func (osFS) Space(dir string) (Space, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return Space{}, &os.PathError{Op: "statfs", Path: dir, Err: err}
	}
	unit := int64(st.Frsize)
	if unit <= 0 {
		unit = int64(st.Bsize)
	}
	return Space{Total: int64(st.Blocks) * unit, Free: int64(st.Bavail) * unit}, nil
}
