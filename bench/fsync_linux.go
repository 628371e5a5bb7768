package bench

import (
	"os"
	"syscall"
)

// fdatasync is what the log's Sync does on Linux.
func fdatasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }
