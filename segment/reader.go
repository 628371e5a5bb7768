package segment

import (
	"io"

	"github.com/eventd/eventd/segment/vfs"
)

// seqReader reads a file front to back through a large buffer, handing out
// slices of it. Used by recovery, verification and Replay.
type seqReader struct {
	f     vfs.File
	size  int64 // bytes readable (file size or data end)
	buf   []byte
	start int64 // file offset of buf[0]
	n     int   // valid bytes in buf
}

const seqBufSize = 4 << 20

func (r *seqReader) reset(f vfs.File, size int64) {
	r.f, r.size, r.start, r.n = f, size, 0, 0
	if want := int(min(size, seqBufSize)); len(r.buf) < want {
		r.buf = make([]byte, max(want, 4<<10))
	}
}

// peek returns up to n bytes at off: fewer only when the readable size ends
// first. The slice is valid until the next call.
func (r *seqReader) peek(off int64, n int) ([]byte, error) {
	if off >= r.size || n <= 0 {
		return nil, nil
	}
	if avail := r.size - off; int64(n) > avail {
		n = int(avail)
	}
	if off >= r.start && off+int64(n) <= r.start+int64(r.n) {
		i := int(off - r.start)
		return r.buf[i : i+n], nil
	}
	if n > len(r.buf) {
		r.buf = make([]byte, n)
	}
	want := len(r.buf)
	if avail := r.size - off; int64(want) > avail {
		want = int(avail)
	}
	k, err := r.f.ReadAt(r.buf[:want], off)
	if err == io.EOF && k == want {
		err = nil
	}
	r.start, r.n = off, k
	if err != nil && err != io.EOF {
		r.n = 0
		return nil, err
	}
	if k < n {
		return r.buf[:k], nil
	}
	return r.buf[:n], nil
}
