package segment

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"
)

var (
	// ErrCorrupt: bytes on disk do not decode or do not match their checksum.
	ErrCorrupt = errors.New("segment: corrupt data")
	// ErrRecordTooLarge: a record is larger than Options.MaxRecordSize (on
	// write) or the format limit MaxRecordSize (on read).
	ErrRecordTooLarge = errors.New("segment: record too large")
	// ErrClosed: the Log was closed.
	ErrClosed = errors.New("segment: log is closed")
	// ErrOutOfRange: a Loc or position does not name anything in the log.
	ErrOutOfRange = errors.New("segment: location out of range")
	// ErrNotWritten wraps a Write (or Probe) error that left the log as it
	// was: nothing of the batch is in the log (a frame written in part was
	// zeroed or cut off again), LastPosition did not move, the failure is
	// not sticky, and the same positions may be written again. The cause
	// is wrapped too: a file that could not be opened or created at a roll
	// (EMFILE, ENFILE, ENOSPC, …), or a frame that found no room (ENOSPC,
	// EDQUOT; see NoSpace and Log.Probe). Every other failed write, and
	// every failed fsync, is sticky.
	ErrNotWritten = errors.New("segment: batch not written")
)

// NoSpace reports whether err says the file system is full (ENOSPC) or
// the user's quota is used up (EDQUOT): room may come back without a
// restart, which Log.Probe checks.
func NoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// noFileSlots reports whether err is the process (EMFILE) or the system
// (ENFILE) being out of file descriptors.
func noFileSlots(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)
}

// notWritten marks an error inside the package after which the log is as
// it was before the call; Write turns it into an ErrNotWritten.
type notWritten struct{ err error }

func (e *notWritten) Error() string { return e.err.Error() }
func (e *notWritten) Unwrap() error { return e.err }

// fileErr reports err of operation op on the file the log knows as path.
// A segment file keeps the name it was opened under (roll.tmp,
// prealloc.tmp) in the os package's errors after it is renamed, so the
// *fs.PathError is rebuilt with the real name.
func fileErr(op, path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return &fs.PathError{Op: op, Path: path, Err: err}
}

// errTruncated is a frame or record cut short: the end of the data came
// before the end its length promised. At the tail of the last segment it is
// a torn write; anywhere else it is corruption.
var errTruncated = fmt.Errorf("%w: truncated", ErrCorrupt)

// errEndOfLog is a frame header whose length field is 0: zero-filled space
// after the last frame. Not an error in itself.
var errEndOfLog = errors.New("segment: end of log")

// errZeroInData is a zero length field where the segment's data says a
// frame is: what errEndOfLog means at the tail is damage before it.
var errZeroInData = fmt.Errorf("%w: zero-filled frame header inside the segment's data", ErrCorrupt)

// CorruptionError says where damage was found: the segment file, the byte
// offset (of the frame, record, header or footer that is bad) and the cause,
// which wraps ErrCorrupt. Find it with errors.As.
type CorruptionError struct {
	File   string
	Offset int64
	Err    error
}

func (e *CorruptionError) Error() string {
	return fmt.Sprintf("segment: corruption in %s at offset %d: %v", e.File, e.Offset, e.Err)
}

func (e *CorruptionError) Unwrap() error { return e.Err }

func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}
