package s3blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/opencontainers/go-digest"
)

// User metadata of a link object (x-amz-meta-*): the data object it names
// and the blob's size.
const (
	metaData = "berth-data"
	metaSize = "berth-size"
)

// errBadLink reports a link object whose metadata this store cannot read.
var errBadLink = errors.New("s3blob: invalid link")

// blobObject is where a committed blob's bytes are: the object under its
// blob key, or the data object its link names.
type blobObject struct {
	key     string // object holding the bytes
	size    int64
	modTime time.Time // of the blob key's object: the commit
	link    bool
	ref     string // the link's data reference
	etag    string // of the blob key's object
}

// resolve HEADs blob d's key and follows a link.
func (s *Store) resolve(ctx context.Context, d digest.Digest) (blobObject, error) {
	key, err := s.layout.blobKey(d)
	if err != nil {
		return blobObject{}, err
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		return blobObject{}, s.fail(ctx, "stat "+d.String(), err)
	}
	return s.fromHead(key, out)
}

// fromHead reads a blob key's HEAD: its own bytes, or a link.
func (s *Store) fromHead(key string, out *s3.HeadObjectOutput) (blobObject, error) {
	b := blobObject{key: key, size: aws.ToInt64(out.ContentLength), modTime: aws.ToTime(out.LastModified), etag: aws.ToString(out.ETag)}
	ref, ok := out.Metadata[metaData]
	if !ok {
		return b, nil
	}
	dk, err := s.layout.refKey(ref)
	if err != nil {
		return b, fmt.Errorf("%w %s: %v", errBadLink, key, err)
	}
	n, err := strconv.ParseInt(out.Metadata[metaSize], 10, 64)
	if err != nil || n < 0 || b.size != 0 {
		return b, fmt.Errorf("%w %s: size %q, %d bytes of its own", errBadLink, key, out.Metadata[metaSize], b.size)
	}
	b.key, b.size, b.link, b.ref = dk, n, true, ref
	return b, nil
}

// commitLink commits an upload that is one streamed segment without
// copying it: a claim, a check that the data object is the recorded one,
// then the link under dst. A blob already linked there is touched (its
// link rewritten in place, conditional on its ETag) and this upload's data
// is left to the sweeper; a blob stored as bytes there reports false, for
// the caller to copy onto it as before.
func (s *Store) commitLink(ctx context.Context, u uploadState, d digest.Digest, dst string) (bool, error) {
	g := u.Segs[0]
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: &dst})
	switch {
	case err == nil:
		b, err := s.fromHead(dst, out)
		if err != nil || !b.link {
			return false, nil
		}
		// A link whose data object is gone (a Delete that failed half-way)
		// is replaced by one to this upload's data, not kept.
		if _, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: &b.key}); isNotFound(err) {
			break
		} else if err != nil {
			return true, s.fail(ctx, "commit upload "+u.ID, err)
		}
		err = s.touch(ctx, dst, b.etag, out.Metadata)
		if err == nil {
			return true, nil
		}
		if !isNotFound(err) && !isPreconditionFailed(err) {
			return true, s.fail(ctx, "commit upload "+u.ID, err)
		}
		// Deleted or replaced meanwhile: link this upload's data.
	case !isNotFound(err):
		return true, s.fail(ctx, "commit upload "+u.ID, err)
	}
	claim, err := s.layout.releasedPrefix(u.ID)
	if err != nil {
		return true, err
	}
	claim += g.Name
	if _, err := s.putObject(ctx, claim, []byte(d.String())); err != nil {
		return true, s.fail(ctx, "commit upload "+u.ID, err)
	}
	key, err := s.layout.dataKey(u.ID, g.Name)
	if err != nil {
		return true, err
	}
	if _, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: &key, IfMatch: &g.ETag}); err != nil {
		return true, s.copyError(ctx, u, err)
	}
	_, err = s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &s.bucket, Key: &dst, Body: strings.NewReader(""), ContentLength: aws.Int64(0),
		ContentType: aws.String(contentType),
		Metadata:    map[string]string{metaData: dataRef(u.ID, g.Name), metaSize: strconv.FormatInt(g.Size, 10)},
	})
	if err != nil {
		return true, s.fail(ctx, "commit upload "+u.ID, err)
	}
	return true, nil
}

// touch rewrites the link at key in place, if its ETag is still etag, so
// that its LastModified (the blob's ModTime) becomes now.
func (s *Store) touch(ctx context.Context, key, etag string, meta map[string]string) error {
	_, err := s.client.CopyObject(ctx, &s3.CopyObjectInput{
		Bucket: &s.bucket, Key: &key, CopySource: s.copySource(key), CopySourceIfMatch: &etag,
		ContentType: aws.String(contentType), MetadataDirective: types.MetadataDirectiveReplace, Metadata: meta,
	})
	return err
}

// sweepData deletes the data objects of released upload id that no blob
// links to, and says how many. claims are the names of its data objects
// that commits linked; each is checked against its blob's link, which a
// later commit or delete may have replaced.
func (s *Store) sweepData(ctx context.Context, id string, claims []string) (int, error) {
	linked := map[string]bool{}
	rp, err := s.layout.releasedPrefix(id)
	if err != nil {
		return 0, err
	}
	for _, name := range claims {
		key := rp + name
		out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &key})
		if isNotFound(err) {
			continue
		}
		if err != nil {
			return 0, err
		}
		body, err := io.ReadAll(io.LimitReader(out.Body, 200))
		out.Body.Close()
		if err != nil {
			return 0, err
		}
		d, err := digest.Parse(string(body))
		if err != nil {
			continue // not a claim this store wrote: links nothing
		}
		b, err := s.resolve(ctx, d)
		switch {
		case err == nil:
			linked[name] = b.link && b.ref == dataRef(id, name)
		case !isNotFound(err):
			return 0, err
		}
	}
	dp, _ := s.layout.dataPrefix(id)
	return s.removeWhere(ctx, dp, func(key string) bool { return !linked[strings.TrimPrefix(key, dp)] })
}
