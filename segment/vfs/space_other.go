//go:build !linux

package vfs

import "errors"

// Space is not implemented off Linux: the preallocator then behaves as if
// space were plentiful (see DiskSpace).
func (osFS) Space(string) (Space, error) { return Space{}, errors.ErrUnsupported }
