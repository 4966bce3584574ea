package s3blob

import (
	"bytes"
	"context"
	"errors"
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

// part is one or more buffers on its way to UploadPart: every buffer
// full but the last, which holds n bytes.
type part struct {
	num  int32
	bufs []*[]byte // returned to the pool once uploaded
	n    int
}

// size is the part's length in bytes.
func (p part) size() int64 {
	return int64(len(p.bufs)-1)*int64(len(*p.bufs[0])) + int64(p.n)
}

// reader reads the part's bytes; it seeks, as SigV4 over plain HTTP hashes
// the body before sending it.
func (p part) reader() *buffersReader {
	r := &buffersReader{}
	for i, b := range p.bufs {
		data := *b
		if i == len(p.bufs)-1 {
			data = data[:p.n]
		}
		r.chunks = append(r.chunks, data)
		r.size += int64(len(data))
	}
	return r
}

// streamSegment writes the full buffer first and then the rest of r as a
// multipart upload to key and returns the object's size and ETag. One
// goroutine uploads part n while this one reads part n+1. A part is one
// buffer, grown by up to partBufs-1 more while the store's buffer budget
// allows: an append holds at most 2*partBufs buffers, and only two when
// the store is busy. Any failure aborts the multipart upload.
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
				etag, err := s.uploadPart(ctx, key, mp.UploadId, p.num, p.reader())
				if err != nil {
					upErr = err
					failed.Store(true)
				} else {
					parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(p.num), ETag: aws.String(etag)})
				}
			}
			s.putBufs(p.bufs)
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

// feedParts sends the full buffer first (grown into a part), then fills
// further parts from r and sends them, until r ends, the uploader fails or
// ctx ends. It returns the bytes sent and the first error.
func (s *Store) feedParts(ctx context.Context, jobs chan<- part, failed *atomic.Bool, first *[]byte, r io.Reader) (int64, error) {
	var size int64
	p, rerr := part{bufs: []*[]byte{first}, n: len(*first)}, error(nil)
	for num := int32(1); ; num++ {
		if rerr == nil {
			if rerr = s.growPart(&p, r); rerr != nil && rerr != io.EOF {
				s.putBufs(p.bufs)
				return size, rerr
			}
		}
		if int(num) > s.maxParts {
			s.putBufs(p.bufs)
			return size, fmt.Errorf("one append may write at most %d parts of %d to %d bytes", s.maxParts, s.partSize, int64(s.partBufs)*s.partSize)
		}
		p.num = num
		jobs <- p
		size += p.size()
		switch {
		case rerr == io.EOF:
			return size, nil
		case failed.Load():
			return size, nil // the uploader's error is reported
		case ctx.Err() != nil:
			return size, ctx.Err()
		}
		bp := s.getBuf()
		n, err := fill(r, *bp)
		if err != nil && err != io.EOF {
			s.putBuf(bp)
			return size, err
		}
		if n == 0 {
			s.putBuf(bp)
			return size, nil
		}
		p, rerr = part{bufs: []*[]byte{bp}, n: n}, err
	}
}

// growPart appends buffers filled from r to p, whose buffers are full,
// while the budget gives them and p has fewer than partBufs. It returns
// r's error: io.EOF once r ended, nil if p may not be the last part.
func (s *Store) growPart(p *part, r io.Reader) error {
	for len(p.bufs) < s.partBufs {
		bp := s.tryGetBuf()
		if bp == nil {
			return nil
		}
		n, err := fill(r, *bp)
		if n == 0 {
			s.putBuf(bp)
			return err
		}
		p.bufs, p.n = append(p.bufs, bp), n
		if err != nil {
			return err
		}
	}
	return nil
}

// buffersReader reads a list of byte slices as one seekable body.
type buffersReader struct {
	chunks   [][]byte
	size     int64
	pos      int64
	chunk    int   // index of the chunk holding pos
	chunkOff int64 // offset of that chunk in the body
}

func (b *buffersReader) Read(p []byte) (int, error) {
	if b.pos >= b.size {
		return 0, io.EOF
	}
	for b.pos-b.chunkOff >= int64(len(b.chunks[b.chunk])) {
		b.chunkOff += int64(len(b.chunks[b.chunk]))
		b.chunk++
	}
	n := copy(p, b.chunks[b.chunk][b.pos-b.chunkOff:])
	b.pos += int64(n)
	return n, nil
}

func (b *buffersReader) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += b.pos
	case io.SeekEnd:
		offset += b.size
	default:
		return b.pos, errors.New("s3blob: invalid whence")
	}
	if offset < 0 {
		return b.pos, errors.New("s3blob: negative position")
	}
	b.pos, b.chunk, b.chunkOff = offset, 0, 0
	return offset, nil
}

// uploadPart uploads one part and returns its ETag.
func (s *Store) uploadPart(ctx context.Context, key string, uploadID *string, num int32, body *buffersReader) (string, error) {
	out, err := s.client.UploadPart(ctx, &s3.UploadPartInput{
		Bucket: &s.bucket, Key: &key, UploadId: uploadID, PartNumber: aws.Int32(num),
		Body: body, ContentLength: aws.Int64(body.size),
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
	s.notePeak(s.bufsHeld.Add(1))
	return s.bufs.get()
}

// tryGetBuf takes a buffer only while fewer than bufBudget are held, or
// returns nil: the buffers that grow parts beyond one.
func (s *Store) tryGetBuf() *[]byte {
	for {
		n := s.bufsHeld.Load()
		if n >= s.bufBudget {
			return nil
		}
		if s.bufsHeld.CompareAndSwap(n, n+1) {
			s.notePeak(n + 1)
			return s.bufs.get()
		}
	}
}

func (s *Store) notePeak(n int64) {
	for {
		peak := s.bufsPeak.Load()
		if n <= peak || s.bufsPeak.CompareAndSwap(peak, n) {
			return
		}
	}
}

func (s *Store) putBuf(b *[]byte) {
	s.bufsHeld.Add(-1)
	s.bufs.put(b)
}

func (s *Store) putBufs(bs []*[]byte) {
	for _, b := range bs {
		s.putBuf(b)
	}
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
