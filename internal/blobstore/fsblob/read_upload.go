package fsblob

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/berth-registry/berth/internal/blobstore"
)

// ReadUpload reads back the first size bytes of an upload. Bytes beyond the
// state's recorded size (an unrecorded append) are never returned, and a
// file that lost recorded bytes is reported up front rather than read
// short, which the caller would only notice as a digest mismatch.
func (s *Store) ReadUpload(ctx context.Context, st blobstore.UploadState, size int64) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	u, p, err := s.decodeState(st)
	if err != nil {
		return nil, err
	}
	if size < 0 || size > u.Size {
		return nil, fmt.Errorf("fsblob: read %d bytes of upload %s holding %d: %w",
			size, u.ID, u.Size, blobstore.ErrOffsetMismatch)
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, notFound(err, "read upload", u.ID)
	}
	if fi, err := f.Stat(); err != nil || fi.Size() < size {
		f.Close()
		if err == nil {
			err = fmt.Errorf("holds %d bytes, expected %d: %w", fi.Size(), size, blobstore.ErrOffsetMismatch)
		}
		return nil, fmt.Errorf("fsblob: read upload %s: %w", u.ID, err)
	}
	return struct {
		io.Reader
		io.Closer
	}{io.LimitReader(f, size), f}, nil
}
