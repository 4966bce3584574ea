package s3blob

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/berth-registry/berth/internal/blobstore"
)

// objectReader reads the first size bytes of one object with ranged GETs
// that start at the read position: nothing is fetched until the first
// Read, and a Seek only drops the open response.
type objectReader struct {
	ctx  context.Context
	s    *Store
	key  string
	etag string // If-Match for segments; "" for blobs, which never change
	size int64
	pos  int64
	body io.ReadCloser
}

func (o *objectReader) Read(p []byte) (int, error) {
	if o.pos >= o.size {
		return 0, io.EOF
	}
	if o.body == nil {
		if err := o.open(); err != nil {
			return 0, err
		}
	}
	if rest := o.size - o.pos; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := o.body.Read(p)
	o.pos += int64(n)
	switch {
	case err == io.EOF && o.pos < o.size:
		return n, fmt.Errorf("s3blob: %s ended at %d of %d bytes: %w", o.key, o.pos, o.size, io.ErrUnexpectedEOF)
	case err == io.EOF:
		return n, nil // the next Read reports EOF
	case err != nil:
		return n, o.s.fail(o.ctx, "read "+o.key, err)
	}
	return n, nil
}

// open starts a GET of the object's bytes from pos to size.
func (o *objectReader) open() error {
	in := &s3.GetObjectInput{Bucket: &o.s.bucket, Key: &o.key}
	if o.pos > 0 || o.etag != "" {
		in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", o.pos, o.size-1))
	}
	if o.etag != "" {
		in.IfMatch = &o.etag
	}
	out, err := o.s.client.GetObject(o.ctx, in)
	if err != nil {
		return o.s.fail(o.ctx, "read "+o.key, err)
	}
	o.body = out.Body
	return nil
}

func (o *objectReader) Seek(offset int64, whence int) (int64, error) {
	var abs int64
	switch whence {
	case io.SeekStart:
		abs = offset
	case io.SeekCurrent:
		abs = o.pos + offset
	case io.SeekEnd:
		abs = o.size + offset
	default:
		return o.pos, errors.New("s3blob: invalid whence")
	}
	if abs < 0 {
		return o.pos, errors.New("s3blob: negative position")
	}
	if abs != o.pos && o.body != nil {
		_ = o.body.Close()
		o.body = nil
	}
	o.pos = abs
	return abs, nil
}

func (o *objectReader) Close() error {
	if o.body == nil {
		return nil
	}
	err := o.body.Close()
	o.body = nil
	return err
}

// ReadUpload reads back the first size bytes of the state's segments,
// each GET conditional on the segment's recorded ETag, one at a time.
func (s *Store) ReadUpload(ctx context.Context, st blobstore.UploadState, size int64) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	u, err := decodeState(st)
	if err != nil {
		return nil, err
	}
	if size < 0 || size > u.Size {
		return nil, fmt.Errorf("s3blob: read %d bytes of upload %s holding %d: %w",
			size, u.ID, u.Size, blobstore.ErrOffsetMismatch)
	}
	if err := s.checkLive(ctx, u.ID); err != nil {
		return nil, err
	}
	var readers []*objectReader
	for _, g := range u.Segs {
		if size == 0 {
			break
		}
		key, err := s.segKey(u.ID, g)
		if err != nil {
			return nil, err
		}
		n := min(size, g.Size)
		readers = append(readers, &objectReader{ctx: ctx, s: s, key: key, etag: g.ETag, size: n})
		size -= n
	}
	return &segmentsReader{rs: readers}, nil
}

// segmentsReader reads a list of objectReaders in turn.
type segmentsReader struct {
	rs []*objectReader
}

func (m *segmentsReader) Read(p []byte) (int, error) {
	for len(m.rs) > 0 {
		n, err := m.rs[0].Read(p)
		if err == io.EOF {
			_ = m.rs[0].Close()
			m.rs = m.rs[1:]
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
	return 0, io.EOF
}

func (m *segmentsReader) Close() error {
	for _, r := range m.rs {
		_ = r.Close()
	}
	m.rs = nil
	return nil
}
