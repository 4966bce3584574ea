package s3blob

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// RemoveStaleUploads removes uploads untouched since before and says how
// many it removed. An upload's last touch is the newest LastModified of
// its objects (the marker, written at creation, and one segment per
// append), so an upload idle that long belongs to no session (a crash
// between CreateUpload and its database record) or to one the registry
// expires anyway; objects that racing appends wrote after their upload was
// released go the same way. Multipart uploads initiated before before,
// under uploads/ (an append that died mid-stream) or blobs/ (a commit that
// died mid-assembly), are aborted and counted too. Keys that are not an
// upload's are left alone. Released uploads whose records are older than
// before lose their data objects that no blob links to (streamed segments
// of forked or aborted states, data of a commit onto an existing blob),
// then their records; each such upload that lost data counts as one (the
// records of uploads committed whole are not debris and do not count).
func (s *Store) RemoveStaleUploads(ctx context.Context, before time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	removed, err := s.removeStaleUploadObjects(ctx, before)
	if err != nil {
		return removed, s.fail(ctx, "remove stale uploads", err)
	}
	swept, err := s.sweepReleased(ctx, before)
	removed += swept
	if err != nil {
		return removed, s.fail(ctx, "sweep released uploads", err)
	}
	n, err := s.abortStaleMultiparts(ctx, before)
	removed += n
	if err != nil {
		return removed, s.fail(ctx, "abort stale multipart uploads", err)
	}
	return removed, nil
}

// removeStaleUploadObjects lists uploads/ once (and the data/ objects of
// an upload that looks stale there). Keys come sorted, so the
// objects of one upload are adjacent: each upload is judged when the
// listing moves past it, holding one upload's newest time in memory.
func (s *Store) removeStaleUploadObjects(ctx context.Context, before time.Time) (int, error) {
	prefix := s.layout.uploadsPrefix()
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: &prefix})
	var (
		removed int
		cur     string
		newest  time.Time
	)
	flush := func() error {
		if cur == "" || !newest.Before(before) {
			return nil
		}
		// Streamed appends write under data/: they touch the upload too.
		if recent, err := s.touchedSince(ctx, cur, before); err != nil || recent {
			return err
		}
		up, _ := s.layout.uploadPrefix(cur)
		if err := s.removePrefix(ctx, up); err != nil {
			return err
		}
		// Its data objects too, but those a commit that died before
		// releasing it linked; its records go with them.
		if _, err := s.sweepUpload(ctx, cur); err != nil {
			return err
		}
		removed++
		return nil
	}
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return removed, err
		}
		for _, o := range page.Contents {
			id, ok := s.layout.uploadID(aws.ToString(o.Key))
			if !ok {
				continue
			}
			if id != cur {
				if err := flush(); err != nil {
					return removed, err
				}
				cur, newest = id, time.Time{}
			}
			if t := aws.ToTime(o.LastModified); t.After(newest) {
				newest = t
			}
		}
	}
	return removed, flush()
}

// abortStaleMultiparts aborts the multipart uploads under uploads/,
// data/ and blobs/ initiated before before, and says how many. It lists the whole
// bucket's multipart uploads and filters them here: MinIO answers a
// ListMultipartUploads prefix only when it names one exact key.
func (s *Store) abortStaleMultiparts(ctx context.Context, before time.Time) (int, error) {
	in := &s3.ListMultipartUploadsInput{Bucket: &s.bucket}
	ours := []string{s.layout.uploadsPrefix(), s.layout.blobsPrefix(), s.layout.prefix + dataDir}
	aborted := 0
	for {
		page, err := s.client.ListMultipartUploads(ctx, in)
		if err != nil {
			return aborted, fmt.Errorf("list multipart uploads: %w", err)
		}
		for _, u := range page.Uploads {
			key := aws.ToString(u.Key)
			if !aws.ToTime(u.Initiated).Before(before) ||
				!slices.ContainsFunc(ours, func(p string) bool { return strings.HasPrefix(key, p) }) {
				continue
			}
			_, err := s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
				Bucket: &s.bucket, Key: u.Key, UploadId: u.UploadId,
			})
			if err != nil && !isNotFound(err) {
				return aborted, fmt.Errorf("abort multipart upload of %s: %w", key, err)
			}
			aborted++
		}
		if !aws.ToBool(page.IsTruncated) {
			return aborted, nil
		}
		in.KeyMarker, in.UploadIdMarker = page.NextKeyMarker, page.NextUploadIdMarker
	}
}

// sweepReleased lists released/ once; the records of one upload are
// adjacent, and an upload whose records are all older than before is swept
// (sweepUpload). It says how many of them had data objects to delete.
func (s *Store) sweepReleased(ctx context.Context, before time.Time) (int, error) {
	prefix := s.layout.prefix + releasedDir
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: &prefix})
	var (
		swept int
		cur   string
		fresh bool
	)
	flush := func() error {
		if cur == "" || fresh {
			return nil
		}
		n, err := s.sweepUpload(ctx, cur)
		if n > 0 {
			swept++
		}
		return err
	}
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return swept, err
		}
		for _, o := range page.Contents {
			id, _, ok := s.layout.releasedID(aws.ToString(o.Key))
			if !ok {
				continue
			}
			if id != cur {
				if err := flush(); err != nil {
					return swept, err
				}
				cur, fresh = id, false
			}
			fresh = fresh || !aws.ToTime(o.LastModified).Before(before)
		}
	}
	return swept, flush()
}

// sweepUpload deletes the data objects of upload id that no blob links
// to, then its records under released/, and says how many data objects
// it deleted.
func (s *Store) sweepUpload(ctx context.Context, id string) (int, error) {
	rp, err := s.layout.releasedPrefix(id)
	if err != nil {
		return 0, err
	}
	var claims []string
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: &rp})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return 0, err
		}
		for _, o := range page.Contents {
			if _, name, ok := s.layout.releasedID(aws.ToString(o.Key)); ok && name != releaseRecord {
				claims = append(claims, name)
			}
		}
	}
	n, err := s.sweepData(ctx, id, claims)
	if err != nil {
		return n, err
	}
	return n, s.removePrefix(ctx, rp)
}

// touchedSince reports whether upload id has a data object written at or
// after before.
func (s *Store) touchedSince(ctx context.Context, id string, before time.Time) (bool, error) {
	dp, err := s.layout.dataPrefix(id)
	if err != nil {
		return false, err
	}
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: &dp})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return false, err
		}
		for _, o := range page.Contents {
			if !aws.ToTime(o.LastModified).Before(before) {
				return true, nil
			}
		}
	}
	return false, nil
}
