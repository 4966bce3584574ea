package s3blob

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"slices"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/berth-registry/berth/internal/blobstore"
)

// contentType is stored on every object; blobs are opaque bytes.
const contentType = "application/octet-stream"

// cleanupTimeout bounds best-effort cleanup that outlives a canceled call.
const cleanupTimeout = 30 * time.Second

// CreateUpload writes the upload's live marker. id must be a canonical
// lowercase UUID.
func (s *Store) CreateUpload(ctx context.Context, id string) (blobstore.UploadState, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	key, err := s.layout.markerKey(id)
	if err != nil {
		return nil, err
	}
	if _, err := s.putObject(ctx, key, nil); err != nil {
		return nil, s.fail(ctx, "create upload "+id, err)
	}
	return uploadState{V: stateVersion, ID: id}.encode(), nil
}

// checkLive reports ErrNotFound once the upload was committed or aborted.
func (s *Store) checkLive(ctx context.Context, id string) error {
	key, err := s.layout.markerKey(id)
	if err != nil {
		return err
	}
	if _, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: &key}); err != nil {
		return s.fail(ctx, "upload "+id, err)
	}
	return nil
}

// AppendUpload writes r as one new segment object under a fresh random
// name and returns a state listing it after st's segments. If st ends in a
// short tail, the tail's bytes are read back and written again at the
// front of the new segment, which then replaces the tail in the returned
// state (st itself, and any other state naming the tail, stay valid). A
// body that fits the part buffer is one PutObject; a longer one streams
// as a multipart upload of PartSize parts, reading the next part while
// the previous one uploads (two buffers per append). An empty r writes
// nothing. On error nothing st names is touched.
func (s *Store) AppendUpload(ctx context.Context, st blobstore.UploadState, offset int64, r io.Reader) (int64, blobstore.UploadState, error) {
	if err := ctx.Err(); err != nil {
		return 0, st, err
	}
	u, err := decodeState(st)
	if err != nil {
		return 0, st, err
	}
	if offset != u.Size {
		return 0, st, fmt.Errorf("s3blob: append at %d to upload %s of %d bytes: %w",
			offset, u.ID, u.Size, blobstore.ErrOffsetMismatch)
	}
	if err := s.checkLive(ctx, u.ID); err != nil {
		return 0, st, err
	}
	tail, hasTail := u.tail()
	head := int(tail.Size) // 0 without a tail; < minPartSize <= partSize
	bp := s.getBuf()
	filled, rerr := fill(r, (*bp)[head:])
	switch {
	case rerr != nil && rerr != io.EOF:
		s.putBuf(bp)
		return 0, st, fmt.Errorf("s3blob: append to upload %s: %w", u.ID, rerr)
	case filled == 0:
		s.putBuf(bp)
		return 0, st, nil
	}
	if err := ctx.Err(); err != nil {
		s.putBuf(bp)
		return 0, st, err
	}
	if hasTail {
		if err := s.readSegment(ctx, u.ID, tail, (*bp)[:head]); err != nil {
			s.putBuf(bp)
			return 0, st, err
		}
	}
	// A streamed segment goes under data/, where a commit can link to it.
	seg := segment{Name: newSegmentName(), Data: rerr != io.EOF}
	key, err := s.segKey(u.ID, seg)
	if err != nil {
		s.putBuf(bp)
		return 0, st, err
	}
	if rerr == io.EOF {
		seg.Size = int64(head + filled)
		seg.ETag, err = s.putObject(ctx, key, (*bp)[:seg.Size])
		s.putBuf(bp)
	} else {
		seg.Size, seg.ETag, err = s.streamSegment(ctx, key, bp, r)
	}
	if err != nil {
		return 0, st, s.fail(ctx, "append to upload "+u.ID, err)
	}
	if hasTail {
		u.Segs = u.Segs[:len(u.Segs)-1]
	}
	n := seg.Size - int64(head)
	u.Segs = append(slices.Clip(u.Segs), seg)
	u.Size += n
	return n, u.encode(), nil
}

// putObject writes data as the whole object key and returns its ETag.
func (s *Store) putObject(ctx context.Context, key string, data []byte) (string, error) {
	out, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &s.bucket, Key: &key, Body: bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))), ContentType: aws.String(contentType),
	})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.ETag), nil
}

// segKey is where segment g of upload id lives.
func (s *Store) segKey(id string, g segment) (string, error) {
	if g.Data {
		return s.layout.dataKey(id, g.Name)
	}
	return s.layout.segmentKey(id, g.Name)
}

// readSegment reads the whole segment g of upload id into dst.
func (s *Store) readSegment(ctx context.Context, id string, g segment, dst []byte) error {
	key, err := s.segKey(id, g)
	if err != nil {
		return err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &key, IfMatch: &g.ETag})
	if err != nil {
		return s.segmentError(ctx, id, g, err)
	}
	defer out.Body.Close()
	if _, err := io.ReadFull(out.Body, dst); err != nil {
		return s.fail(ctx, fmt.Sprintf("upload %s: read segment %s", id, g.Name), err)
	}
	return nil
}

// segmentError explains a segment that cannot be read. With the marker
// gone too, the upload was released: ErrNotFound. A segment missing or
// replaced under a live upload lost recorded bytes: ErrOffsetMismatch.
func (s *Store) segmentError(ctx context.Context, id string, g segment, err error) error {
	if !isNotFound(err) && !isPreconditionFailed(err) {
		return s.fail(ctx, fmt.Sprintf("upload %s: segment %s", id, g.Name), err)
	}
	if lerr := s.checkLive(ctx, id); lerr != nil {
		return lerr
	}
	return fmt.Errorf("s3blob: upload %s: segment %s is missing or changed (%v): %w",
		id, g.Name, err, blobstore.ErrOffsetMismatch)
}

// part is one buffer on its way to UploadPart.
type part struct {
	num  int32
	data []byte
	buf  *[]byte // returned to the pool once uploaded
}

// streamSegment writes the full buffer first and then the rest of r as a
// multipart upload to key and returns the object's size and ETag. One
// goroutine uploads part n while this one reads part n+1, so an append
// holds at most two buffers. Any failure aborts the multipart upload.
func (s *Store) streamSegment(ctx context.Context, key string, first *[]byte, r io.Reader) (int64, string, error) {
	mp, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: &s.bucket, Key: &key, ContentType: aws.String(contentType),
	})
	if err != nil {
		s.putBuf(first)
		return 0, "", err
	}
	var (
		jobs   = make(chan part)
		done   = make(chan struct{})
		failed atomic.Bool
		upErr  error
		parts  []types.CompletedPart
	)
	go func() {
		defer close(done)
		for p := range jobs {
			if upErr == nil {
				etag, err := s.uploadPart(ctx, key, mp.UploadId, p.num, p.data)
				if err != nil {
					upErr = err
					failed.Store(true)
				} else {
					parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(p.num), ETag: aws.String(etag)})
				}
			}
			s.putBuf(p.buf)
		}
	}()
	size, rerr := s.feedParts(ctx, jobs, &failed, first, r)
	close(jobs)
	<-done
	if err := cmpOr(rerr, upErr); err != nil {
		s.abortMultipart(ctx, key, mp.UploadId)
		return 0, "", err
	}
	out, err := s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &s.bucket, Key: &key, UploadId: mp.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		s.abortMultipart(ctx, key, mp.UploadId)
		return 0, "", err
	}
	return size, aws.ToString(out.ETag), nil
}

// feedParts sends the full buffer first, then fills further buffers from r
// and sends them, until r ends, the uploader fails or ctx ends. It returns
// the bytes sent and the first error.
func (s *Store) feedParts(ctx context.Context, jobs chan<- part, failed *atomic.Bool, first *[]byte, r io.Reader) (int64, error) {
	var size int64
	bp, n, rerr := first, len(*first), error(nil)
	for num := int32(1); ; num++ {
		if int(num) > s.maxParts {
			s.putBuf(bp)
			return size, fmt.Errorf("one append may write at most %d parts of %d bytes", s.maxParts, s.partSize)
		}
		jobs <- part{num: num, data: (*bp)[:n], buf: bp}
		size += int64(n)
		switch {
		case rerr == io.EOF:
			return size, nil
		case failed.Load():
			return size, nil // the uploader's error is reported
		case ctx.Err() != nil:
			return size, ctx.Err()
		}
		bp = s.getBuf()
		n, rerr = fill(r, *bp)
		if rerr != nil && rerr != io.EOF {
			s.putBuf(bp)
			return size, rerr
		}
		if n == 0 {
			s.putBuf(bp)
			return size, nil
		}
	}
}

// uploadPart uploads one part and returns its ETag.
func (s *Store) uploadPart(ctx context.Context, key string, uploadID *string, num int32, data []byte) (string, error) {
	out, err := s.client.UploadPart(ctx, &s3.UploadPartInput{
		Bucket: &s.bucket, Key: &key, UploadId: uploadID, PartNumber: aws.Int32(num),
		Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data))),
	})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.ETag), nil
}

// abortMultipart discards a multipart upload, best effort: what it misses
// RemoveStaleUploads finds with ListMultipartUploads.
func (s *Store) abortMultipart(ctx context.Context, key string, uploadID *string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	_, _ = s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &s.bucket, Key: &key, UploadId: uploadID})
}

// getBuf takes a part buffer from the pool; putBuf gives it back. The
// counts of buffers held are kept for tests and metrics.
func (s *Store) getBuf() *[]byte {
	n := s.bufsHeld.Add(1)
	for {
		peak := s.bufsPeak.Load()
		if n <= peak || s.bufsPeak.CompareAndSwap(peak, n) {
			break
		}
	}
	return s.bufs.Get().(*[]byte)
}

func (s *Store) putBuf(b *[]byte) {
	s.bufsHeld.Add(-1)
	s.bufs.Put(b)
}

// fill reads until buf is full or r returns an error (io.EOF included).
// Unlike io.ReadFull it passes r's own io.ErrUnexpectedEOF through as the
// failure it is (net/http reports a truncated body that way).
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// cmpOr returns the first non-nil error.
func cmpOr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
