package s3blob_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/blobstore"
	"github.com/berth-registry/berth/internal/blobstore/blobtest"
	"github.com/berth-registry/berth/internal/blobstore/s3blob"
)

// keysUnder lists the keys under prefix, sorted.
func keysUnder(t *testing.T, e env, prefix string) []string {
	t.Helper()
	var keys []string
	p := s3.NewListObjectsV2Paginator(e.s3.Client(), &s3.ListObjectsV2Input{Bucket: &e.bucket, Prefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys
}

// streamed uploads content in one append, which streams it (it is longer
// than a part) into one data object.
func streamed(t *testing.T, s *s3blob.Store, content []byte) blobstore.UploadState {
	t.Helper()
	st, _ := appendAll(t, s, mustCreate(t, s), 0, content)
	sizes, err := s3blob.SegmentSizes(st)
	if err != nil || len(sizes) != 1 {
		t.Fatalf("segments %v, %v: want one", sizes, err)
	}
	return st
}

// TestStreamedUploadIsLinked commits an upload of one streamed segment:
// the blob key holds an empty link, not a copy, and every read path
// follows it; the data object stays until the blob is deleted.
func TestStreamedUploadIsLinked(t *testing.T) {
	e := newEnv(t, "l")
	e.opts.PartSize = 5 << 20
	s := e.store(t)
	ctx := t.Context()
	content := blobtest.Content(60, 12<<20+5)
	d := digest.FromBytes(content)
	size := int64(len(content))
	commit := func() {
		if err := s.CommitUpload(ctx, streamed(t, s, content), size, d); err != nil {
			t.Fatalf("CommitUpload: %v", err)
		}
	}
	commit()
	key := "l/blobs/sha256/" + d.Encoded()[:2] + "/" + d.Encoded()
	head, err := e.s3.Client().HeadObject(ctx, &s3.HeadObjectInput{Bucket: &e.bucket, Key: &key})
	if err != nil || aws.ToInt64(head.ContentLength) != 0 {
		t.Fatalf("HEAD %s: %v, want an empty link (%+v)", key, err, head)
	}
	checkBlob(t, s, d, content)
	if n, err := s.Stat(ctx, d); err != nil || n != size {
		t.Fatalf("Stat = %d, %v; want %d", n, err, size)
	}
	infos := map[digest.Digest]blobstore.BlobInfo{}
	if err := s.Walk(ctx, func(b blobstore.BlobInfo) error { infos[b.Digest] = b; return nil }); err != nil {
		t.Fatal(err)
	}
	if len(infos) != 1 || infos[d].Size != size {
		t.Fatalf("Walk = %+v, want %s of %d bytes", infos, d, size)
	}
	u, err := s.RedirectURL(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || !bytes.Equal(got, content) {
		t.Fatalf("GET of the redirect URL: %s, %d bytes, %v", resp.Status, len(got), err)
	}
	if data := keysUnder(t, e, "l/data/"); len(data) != 1 {
		t.Fatalf("data objects %q, want the one the link names", data)
	}
	// Sweeping the committed upload's records deletes nothing and counts
	// nothing: a whole commit is not debris.
	if n, err := s.RemoveStaleUploads(ctx, time.Now().Add(time.Hour)); err != nil || n != 0 {
		t.Fatalf("RemoveStaleUploads after a linked commit = %d, %v; want 0", n, err)
	}
	if data := keysUnder(t, e, "l/data/"); len(data) != 1 {
		t.Fatalf("data objects after the sweep %q, want the one the link names", data)
	}

	// A second commit of the same bytes touches the link (ModTime moves)
	// and leaves its own data object to the sweeper.
	time.Sleep(1100 * time.Millisecond) // S3 times have one-second precision
	commit()
	if after := walkInfo(t, s, d); !after.ModTime.After(infos[d].ModTime) {
		t.Fatalf("ModTime after the second commit %s, first %s: want later", after.ModTime, infos[d].ModTime)
	}
	if data := keysUnder(t, e, "l/data/"); len(data) != 2 {
		t.Fatalf("data objects %q, want two", data)
	}
	if _, err := s.RemoveStaleUploads(ctx, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if data := keysUnder(t, e, "l/data/"); len(data) != 1 {
		t.Fatalf("data objects after the sweep %q, want the linked one", data)
	}
	if left := keysUnder(t, e, "l/released/"); len(left) != 0 {
		t.Fatalf("records after the sweep %q, want none", left)
	}
	checkBlob(t, s, d, content)

	if err := s.Delete(ctx, d); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, d); err == nil {
		t.Fatal("Stat after Delete succeeded")
	}
	if left := keysUnder(t, e, "l/"); len(left) != 0 {
		t.Fatalf("objects left after Delete and the sweep: %q", left)
	}
}

func walkInfo(t *testing.T, s blobstore.Store, d digest.Digest) blobstore.BlobInfo {
	t.Helper()
	var out blobstore.BlobInfo
	err := s.Walk(t.Context(), func(b blobstore.BlobInfo) error {
		if b.Digest == d {
			out = b
		}
		return nil
	})
	if err != nil || out.Digest != d {
		t.Fatalf("Walk: %v; %s not found", err, d)
	}
	return out
}

// TestSweepKeepsLinkedData forks a streamed upload: each state commits its
// own blob by link at once, an aborted upload and a forked state left
// uncommitted leave data objects, and the sweeper deletes exactly those.
func TestSweepKeepsLinkedData(t *testing.T) {
	e := newEnv(t, "k")
	e.opts.PartSize = 5 << 20
	s := e.store(t)
	ctx := t.Context()
	st := mustCreate(t, s)
	a, b, c := blobtest.Content(61, 6<<20), blobtest.Content(62, 7<<20), blobtest.Content(63, 8<<20)
	sa, _ := appendAll(t, s, st, 0, a)
	sb, _ := appendAll(t, s, st, 0, b)
	_, _ = appendAll(t, s, st, 0, c) // a fork nobody commits
	errs := make(chan error, 2)
	for _, x := range []struct {
		st      blobstore.UploadState
		content []byte
	}{{sa, a}, {sb, b}} {
		go func() {
			errs <- s.CommitUpload(ctx, x.st, int64(len(x.content)), digest.FromBytes(x.content))
		}()
	}
	ok := 0
	for range 2 {
		if err := <-errs; err == nil {
			ok++
		}
	}
	if ok == 0 {
		t.Fatal("both commits failed")
	}
	aborted := streamed(t, s, blobtest.Content(64, 6<<20))
	if err := s.AbortUpload(ctx, aborted); err != nil {
		t.Fatal(err)
	}
	if n, err := s.RemoveStaleUploads(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("RemoveStaleUploads of an hour ago = %d, %v; want 0", n, err)
	}
	if data := keysUnder(t, e, "k/data/"); len(data) != 4 {
		t.Fatalf("data objects before the sweep %q, want 4", data)
	}
	if n, err := s.RemoveStaleUploads(ctx, time.Now().Add(time.Hour)); err != nil || n != 2 {
		t.Fatalf("RemoveStaleUploads = %d, %v; want 2 released uploads", n, err)
	}
	var committed [][]byte
	for _, x := range [][]byte{a, b} {
		if _, err := s.Stat(ctx, digest.FromBytes(x)); err == nil {
			checkBlob(t, s, digest.FromBytes(x), x)
			committed = append(committed, x)
		}
	}
	if data := keysUnder(t, e, "k/data/"); len(data) != len(committed) {
		t.Fatalf("data objects after the sweep %q, want the %d linked", data, len(committed))
	}
	if left := keysUnder(t, e, "k/released/"); len(left) != 0 {
		t.Fatalf("records after the sweep %q", left)
	}
	// A link whose data object is gone is an error, not an empty blob.
	if len(committed) > 0 {
		d := digest.FromBytes(committed[0])
		for _, k := range keysUnder(t, e, "k/data/") {
			if _, err := e.s3.Client().DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &e.bucket, Key: aws.String(k)}); err != nil {
				t.Fatal(err)
			}
		}
		r, err := s.Open(ctx, d)
		if err == nil {
			_, err = io.ReadAll(r)
			r.Close()
		}
		if err == nil {
			t.Fatal("reading a blob whose data object is gone succeeded")
		}
	}
}

// TestBadLink puts a link whose metadata names no data object under a blob
// key: reads fail (it is not an empty blob), Walk still lists it, and
// Delete removes it.
func TestBadLink(t *testing.T) {
	e := newEnv(t, "bad")
	s := e.store(t)
	ctx := t.Context()
	d := digest.FromString("bad link")
	key := "bad/blobs/sha256/" + d.Encoded()[:2] + "/" + d.Encoded()
	_, err := e.s3.Client().PutObject(ctx, &s3.PutObjectInput{Bucket: &e.bucket, Key: &key, Body: bytes.NewReader(nil),
		Metadata: map[string]string{"berth-data": "../../etc", "berth-size": "12"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stat(ctx, d); err == nil || errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("Stat of a bad link: %v, want an error other than not found", err)
	}
	if info := walkInfo(t, s, d); info.Size != 0 {
		t.Fatalf("Walk reports the bad link with %d bytes, want 0", info.Size)
	}
	if err := s.Delete(ctx, d); err != nil {
		t.Fatal(err)
	}
	if left := keysUnder(t, e, "bad/"); len(left) != 0 {
		t.Fatalf("left after Delete: %q", left)
	}
}

// TestSweepSparesStreamingUpload: an upload whose marker is old but whose
// streamed append (under data/) is recent is not stale.
func TestSweepSparesStreamingUpload(t *testing.T) {
	e := newEnv(t, "busy")
	e.opts.PartSize = 5 << 20
	s := e.store(t)
	ctx := t.Context()
	st := mustCreate(t, s)
	time.Sleep(1100 * time.Millisecond) // S3 times have one-second precision
	before := time.Now().Truncate(time.Second)
	content := blobtest.Content(65, 6<<20)
	st, off := appendAll(t, s, st, 0, content)
	if n, err := s.RemoveStaleUploads(ctx, before); err != nil || n != 0 {
		t.Fatalf("RemoveStaleUploads = %d, %v; want 0", n, err)
	}
	d := digest.FromBytes(content)
	if err := s.CommitUpload(ctx, st, off, d); err != nil {
		t.Fatalf("CommitUpload after the sweep: %v", err)
	}
	checkBlob(t, s, d, content)
}

// TestDanglingLinkIsRepaired: a link whose data object is gone (a Delete
// that failed after removing the data, which it removes before the link)
// is replaced by the next commit of the same bytes, and a Delete of it
// removes the link.
func TestDanglingLinkIsRepaired(t *testing.T) {
	e := newEnv(t, "dl")
	e.opts.PartSize = 5 << 20
	s := e.store(t)
	ctx := t.Context()
	content := blobtest.Content(70, 6<<20+3)
	d := digest.FromBytes(content)
	commit := func() {
		t.Helper()
		if err := s.CommitUpload(ctx, streamed(t, s, content), int64(len(content)), d); err != nil {
			t.Fatalf("CommitUpload: %v", err)
		}
	}
	dropData := func() {
		t.Helper()
		for _, k := range keysUnder(t, e, "dl/data/") {
			if _, err := e.s3.Client().DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &e.bucket, Key: aws.String(k)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	commit()
	dropData()
	commit() // the re-push links its own data instead of touching the dangling link
	checkBlob(t, s, d, content)

	dropData()
	if err := s.Delete(ctx, d); err != nil {
		t.Fatalf("Delete of a dangling link: %v", err)
	}
	if _, err := s.Stat(ctx, d); err == nil {
		t.Fatal("Stat after deleting a dangling link succeeded")
	}
}
