package s3blob

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/blobstore"
)

// copyConcurrency is how many UploadPartCopy calls one commit runs at once.
const copyConcurrency = 4

// CommitUpload makes the state's bytes the blob d, then releases the
// upload. An upload that is one streamed segment is linked, not copied
// (see commitLink). Otherwise the segments are assembled server-side: an
// upload of one segment of at most 64 MiB is
// one CopyObject; anything else is a multipart upload of UploadPartCopy
// ranges of at most 64 MiB (S3 allows 5 GiB), copied four at a time,
// through intermediate objects should there be more than 10,000 parts. Either call makes the whole object visible at once, so a reader
// of d never sees a partial blob; copying onto an existing blob swaps in
// identical bytes (content addressing) and leaves one object. Every copy
// is conditional on the segment's recorded ETag, so the blob holds exactly
// this state's bytes. A failed commit leaves the upload as it was.
func (s *Store) CommitUpload(ctx context.Context, st blobstore.UploadState, size int64, d digest.Digest) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	u, err := decodeState(st)
	if err != nil {
		return err
	}
	if size != u.Size {
		return fmt.Errorf("s3blob: commit %d bytes of upload %s holding %d: %w",
			size, u.ID, u.Size, blobstore.ErrOffsetMismatch)
	}
	dst, err := s.layout.blobKey(d)
	if err != nil {
		return err
	}
	if err := s.checkLive(ctx, u.ID); err != nil {
		return err
	}
	linked := false
	if len(u.Segs) == 1 && u.Segs[0].Data {
		if linked, err = s.commitLink(ctx, u, d, dst); err != nil {
			return err
		}
	}
	if !linked {
		if err := s.assemble(ctx, u, dst); err != nil {
			return err
		}
	}
	// Best effort: what is left is swept as stale.
	_ = s.release(ctx, u.ID)
	return nil
}

// piece is a byte range of a source object, one part of an assembly.
type piece struct {
	key, etag string
	start, n  int64
}

// pieces cuts the state's segments into ranges of at most copyPart bytes.
// A segment longer than that is cut into near-equal ranges, each then at
// least half of copyPart, well above S3's minimum part size.
func (s *Store) pieces(u uploadState) ([]piece, error) {
	var out []piece
	for _, g := range u.Segs {
		key, err := s.segKey(u.ID, g)
		if err != nil {
			return nil, err
		}
		out = append(out, split(key, g.ETag, g.Size, s.copyPart)...)
	}
	return out, nil
}

// split cuts an object of size bytes into ceil(size/max) near-equal ranges.
func split(key, etag string, size, max int64) []piece {
	k := (size + max - 1) / max
	step := (size + k - 1) / k
	out := make([]piece, 0, k)
	for start := int64(0); start < size; start += step {
		out = append(out, piece{key: key, etag: etag, start: start, n: min(step, size-start)})
	}
	return out
}

// assemble writes the upload's bytes as the object dst.
func (s *Store) assemble(ctx context.Context, u uploadState, dst string) error {
	if len(u.Segs) == 0 {
		if _, err := s.putObject(ctx, dst, nil); err != nil {
			return s.fail(ctx, "commit upload "+u.ID, err)
		}
		return nil
	}
	ps, err := s.pieces(u)
	if err != nil {
		return err
	}
	// Too many parts for one multipart upload: assemble groups into
	// intermediate objects inside the upload, then those. With the real
	// limits this never happens: 10,000 parts of 32 MiB or more exceed the
	// largest blob the registry accepts.
	rounds := 0
	for len(ps) > s.maxParts {
		rounds++
		if rounds > 3 {
			return fmt.Errorf("s3blob: commit upload %s: %d pieces do not fit %d parts of at most %d bytes",
				u.ID, len(ps), s.maxParts, s.copyPart)
		}
		var next []piece
		for i := 0; i < len(ps); i += s.maxParts {
			key, err := s.layout.segmentKey(u.ID, newSegmentName())
			if err != nil {
				return err
			}
			group := ps[i:min(i+s.maxParts, len(ps))]
			etag, err := s.copyParts(ctx, key, group)
			if err != nil {
				return s.copyError(ctx, u, err)
			}
			next = append(next, split(key, etag, sum(group), s.copyPart)...)
		}
		ps = next
	}
	if len(ps) == 1 && ps[0].start == 0 && ps[0].n == u.Size {
		err = s.copyObject(ctx, dst, ps[0])
	} else {
		_, err = s.copyParts(ctx, dst, ps)
	}
	if err != nil {
		return s.copyError(ctx, u, err)
	}
	return nil
}

// copyError explains a failed copy: a released upload is ErrNotFound, a
// missing or replaced segment ErrOffsetMismatch.
func (s *Store) copyError(ctx context.Context, u uploadState, err error) error {
	if isNotFound(err) || isPreconditionFailed(err) {
		if lerr := s.checkLive(ctx, u.ID); lerr != nil {
			return lerr
		}
		return fmt.Errorf("s3blob: commit upload %s: a segment is missing or changed (%v): %w",
			u.ID, err, blobstore.ErrOffsetMismatch)
	}
	return s.fail(ctx, "commit upload "+u.ID, err)
}

func sum(ps []piece) int64 {
	var n int64
	for _, p := range ps {
		n += p.n
	}
	return n
}

// copySource names an object for the x-amz-copy-source header.
func (s *Store) copySource(key string) *string {
	els := strings.Split(key, "/")
	for i, el := range els {
		els[i] = url.PathEscape(el)
	}
	return aws.String(url.PathEscape(s.bucket) + "/" + strings.Join(els, "/"))
}

// copyObject copies the whole object p names to dst, if it is unchanged.
func (s *Store) copyObject(ctx context.Context, dst string, p piece) error {
	_, err := s.client.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket: &s.bucket, Key: &dst, CopySource: s.copySource(p.key), CopySourceIfMatch: &p.etag,
		ContentType: aws.String(contentType), MetadataDirective: types.MetadataDirectiveReplace,
	})
	return err
}

// copyParts assembles ps, in order, as a multipart upload to dst, running
// up to copyConcurrency UploadPartCopy calls at once, and returns the new
// object's ETag. On failure the multipart upload is aborted.
func (s *Store) copyParts(ctx context.Context, dst string, ps []piece) (string, error) {
	mp, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: &s.bucket, Key: &dst, ContentType: aws.String(contentType),
	})
	if err != nil {
		return "", err
	}
	parts := make([]types.CompletedPart, len(ps))
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg      sync.WaitGroup
		once    sync.Once
		copyErr error
		next    = make(chan int)
	)
	for range min(copyConcurrency, len(ps)) {
		wg.Go(func() {
			for i := range next {
				etag, err := s.uploadPartCopy(cctx, dst, mp.UploadId, int32(i+1), ps[i])
				if err != nil {
					once.Do(func() { copyErr = err; cancel() })
					continue
				}
				parts[i] = types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: aws.String(etag)}
			}
		})
	}
	for i := range ps {
		if cctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if copyErr == nil {
		copyErr = ctx.Err()
	}
	if copyErr != nil {
		s.abortMultipart(ctx, dst, mp.UploadId)
		return "", copyErr
	}
	out, err := s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &s.bucket, Key: &dst, UploadId: mp.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		s.abortMultipart(ctx, dst, mp.UploadId)
		return "", err
	}
	return aws.ToString(out.ETag), nil
}

// uploadPartCopy copies the range p as part num and returns the part's ETag.
func (s *Store) uploadPartCopy(ctx context.Context, dst string, uploadID *string, num int32, p piece) (string, error) {
	out, err := s.client.UploadPartCopy(ctx, &s3.UploadPartCopyInput{
		Bucket: &s.bucket, Key: &dst, UploadId: uploadID, PartNumber: aws.Int32(num),
		CopySource: s.copySource(p.key), CopySourceIfMatch: &p.etag,
		CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", p.start, p.start+p.n-1)),
	})
	if err != nil {
		return "", err
	}
	if out.CopyPartResult == nil {
		return "", fmt.Errorf("UploadPartCopy of part %d returned no ETag", num)
	}
	return aws.ToString(out.CopyPartResult.ETag), nil
}

// AbortUpload releases the upload; a missing one is not an error.
func (s *Store) AbortUpload(ctx context.Context, st blobstore.UploadState) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	u, err := decodeState(st)
	if err != nil {
		return err
	}
	if err := s.release(ctx, u.ID); err != nil {
		return s.fail(ctx, "abort upload "+u.ID, err)
	}
	return nil
}

// release records the release (for the sweeper, which deletes the
// upload's unlinked data objects once the record is old), deletes the
// upload's marker, so that every later call on it answers ErrNotFound,
// then every object under its uploads/ prefix (short segments of all its
// states, intermediates).
func (s *Store) release(ctx context.Context, id string) error {
	marker, err := s.layout.markerKey(id)
	if err != nil {
		return err
	}
	record, _ := s.layout.releasedPrefix(id)
	if _, err := s.putObject(ctx, record+releaseRecord, nil); err != nil {
		return err
	}
	if _, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: &marker}); err != nil && !isNotFound(err) {
		return err
	}
	prefix, _ := s.layout.uploadPrefix(id)
	return s.removePrefix(ctx, prefix)
}

// removePrefix deletes every object whose key starts with prefix. A
// multipart upload still streaming there (an append racing the release)
// completes into an object RemoveStaleUploads removes later, or is
// aborted by it.
func (s *Store) removePrefix(ctx context.Context, prefix string) error {
	_, err := s.removeWhere(ctx, prefix, func(string) bool { return true })
	return err
}

// removeWhere deletes the objects under prefix for whose key del reports
// true, and says how many.
func (s *Store) removeWhere(ctx context.Context, prefix string, del func(key string) bool) (int, error) {
	removed := 0
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return removed, err
		}
		var ids []types.ObjectIdentifier
		for _, o := range page.Contents {
			if del(aws.ToString(o.Key)) {
				ids = append(ids, types.ObjectIdentifier{Key: o.Key})
			}
		}
		if len(ids) == 0 {
			continue
		}
		out, err := s.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
			Bucket: &s.bucket, Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
		})
		if err != nil {
			return removed, err
		}
		for _, e := range out.Errors {
			if aws.ToString(e.Code) != "NoSuchKey" {
				return removed, fmt.Errorf("delete %s: %s: %s", aws.ToString(e.Key), aws.ToString(e.Code), aws.ToString(e.Message))
			}
		}
		removed += len(ids) - len(out.Errors)
	}
	return removed, nil
}
