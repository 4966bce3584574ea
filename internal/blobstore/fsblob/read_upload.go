package fsblob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/berth-registry/berth/internal/blobstore"
)

// ReadUpload reads back the first size bytes of an upload, across its
// segments. Bytes beyond a segment's recorded size are never returned, and
// a segment that lost recorded bytes is reported up front rather than read
// short, which the caller would only notice as a digest mismatch.
func (s *Store) ReadUpload(ctx context.Context, st blobstore.UploadState, size int64) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	u, dir, err := s.decodeState(st)
	if err != nil {
		return nil, err
	}
	if size < 0 || size > u.Size {
		return nil, fmt.Errorf("fsblob: read %d bytes of upload %s holding %d: %w",
			size, u.ID, u.Size, blobstore.ErrOffsetMismatch)
	}
	if size == 0 {
		// No segment to open, but the upload must still exist.
		if _, err := os.Stat(dir); err != nil {
			return nil, notFound(err, "read upload", u.ID)
		}
		return io.NopCloser(eofReader{}), nil
	}
	rc := &segmentsReader{}
	readers := make([]io.Reader, 0, len(u.Segs))
	for left, i := size, 0; left > 0; i++ {
		g := u.Segs[i]
		n := min(g.Size, left)
		f, err := s.openSegment(u, g, n)
		if err != nil {
			rc.Close()
			return nil, err
		}
		rc.files = append(rc.files, f)
		readers = append(readers, io.LimitReader(f, n))
		left -= n
	}
	rc.Reader = io.MultiReader(readers...)
	return rc, nil
}

// openSegment opens segment g for reading and checks that it holds at
// least the need bytes about to be read.
func (s *Store) openSegment(u uploadState, g segment, need int64) (*os.File, error) {
	p, err := s.layout.segmentPath(u.ID, g.Name)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, s.segmentError(err, u, g.Name, "read upload")
	}
	fi, err := f.Stat()
	if err == nil && fi.Size() < need {
		err = fmt.Errorf("segment %s holds %d bytes, expected %d: %w", g.Name, fi.Size(), need, blobstore.ErrOffsetMismatch)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("fsblob: read upload %s: %w", u.ID, err)
	}
	return f, nil
}

// segmentsReader reads the concatenation of open segments and closes
// them all.
type segmentsReader struct {
	io.Reader
	files []*os.File
}

func (r *segmentsReader) Close() error {
	var errs []error
	for _, f := range r.files {
		errs = append(errs, f.Close())
	}
	r.files = nil
	return errors.Join(errs...)
}

// eofReader is an empty reader.
type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }
