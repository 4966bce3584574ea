package s3blob_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/blobstore"
	"github.com/berth-registry/berth/internal/blobstore/blobtest"
	"github.com/berth-registry/berth/internal/blobstore/s3blob"
	"github.com/berth-registry/berth/internal/testenv"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.StopMinIO()
	os.Exit(code)
}

// env is a MinIO bucket and the options that reach it.
type env struct {
	s3     *testenv.S3
	bucket string
	opts   s3blob.Options
}

func newEnv(t *testing.T, prefix string) env {
	t.Helper()
	e := testenv.MinIO(t)
	bucket := e.Bucket(t)
	return env{s3: e, bucket: bucket, opts: s3blob.Options{
		Bucket: bucket, Prefix: prefix, Endpoint: e.Endpoint, Region: e.Region, PathStyle: true,
		AccessKeyID: e.AccessKey, SecretAccessKey: e.SecretKey,
	}}
}

func (e env) store(t *testing.T) *s3blob.Store {
	t.Helper()
	s, err := s3blob.New(t.Context(), e.opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blobstore.Store { return newEnv(t, "").store(t) })
}

func TestConformanceWithPrefix(t *testing.T) {
	// One bucket shared by many stores, each under its own prefix: Walk
	// and the sweeper must stay inside it.
	e := newEnv(t, "")
	blobtest.Run(t, func(t *testing.T) blobstore.Store {
		o := e.opts
		o.Prefix = "tenant-" + blobtest.NewUploadID()[:8] + "/berth"
		s, err := s3blob.New(t.Context(), o)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		return s
	})
}

func appendAll(t *testing.T, s blobstore.Store, st blobstore.UploadState, off int64, chunks ...[]byte) (blobstore.UploadState, int64) {
	t.Helper()
	for _, c := range chunks {
		n, next, err := s.AppendUpload(t.Context(), st, off, bytes.NewReader(c))
		if err != nil || n != int64(len(c)) {
			t.Fatalf("AppendUpload %d bytes at %d = %d, %v", len(c), off, n, err)
		}
		st, off = next, off+n
	}
	return st, off
}

func checkBlob(t *testing.T, s blobstore.Store, d digest.Digest, want []byte) {
	t.Helper()
	b, err := s.Open(t.Context(), d)
	if err != nil {
		t.Fatalf("Open %s: %v", d, err)
	}
	defer b.Close()
	got, err := io.ReadAll(b)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("blob %s: %d bytes (%v), want %d", d, len(got), err, len(want))
	}
}

// TestUploadMovesBetweenNodes starts an upload on one store, continues it
// on a second one (another node: nothing shared but the bucket and the
// state) and commits it on a third.
func TestUploadMovesBetweenNodes(t *testing.T) {
	e := newEnv(t, "nodes")
	n1, n2, n3 := e.store(t), e.store(t), e.store(t)
	a, b, c := blobtest.Content(1, 3<<20), blobtest.Content(2, 4<<20), blobtest.Content(3, 100)
	st, err := n1.CreateUpload(t.Context(), blobtest.NewUploadID())
	if err != nil {
		t.Fatal(err)
	}
	st, off := appendAll(t, n1, st, 0, a)
	st, off = appendAll(t, n2, st, off, b)
	st, off = appendAll(t, n1, st, off, c)
	want := slices.Concat(a, b, c)
	d := digest.FromBytes(want)
	if err := n3.CommitUpload(t.Context(), st, off, d); err != nil {
		t.Fatalf("CommitUpload on a third node: %v", err)
	}
	checkBlob(t, n2, d, want)
}

// TestSmallChunksBecomeParts checks the part rule: chunks far below S3's
// 5 MiB minimum are merged so that every segment but the last is a valid
// part, and the commit (a multipart copy, which MinIO rejects with parts
// under 5 MiB) succeeds.
func TestSmallChunksBecomeParts(t *testing.T) {
	s := newEnv(t, "").store(t)
	var chunks [][]byte
	for i := range 14 {
		chunks = append(chunks, blobtest.Content(uint64(10+i), 1<<20+i))
	}
	st, err := s.CreateUpload(t.Context(), blobtest.NewUploadID())
	if err != nil {
		t.Fatal(err)
	}
	st, off := appendAll(t, s, st, 0, chunks...)
	sizes, err := s3blob.SegmentSizes(st)
	if err != nil {
		t.Fatal(err)
	}
	if len(sizes) < 2 {
		t.Fatalf("segments %v: want the upload to span several parts", sizes)
	}
	for _, n := range sizes[:len(sizes)-1] {
		if n < s3blob.MinPartSize {
			t.Fatalf("segments %v: a segment other than the last is under 5 MiB", sizes)
		}
	}
	want := slices.Concat(chunks...)
	d := digest.FromBytes(want)
	if err := s.CommitUpload(t.Context(), st, off, d); err != nil {
		t.Fatalf("CommitUpload: %v", err)
	}
	checkBlob(t, s, d, want)
}

// TestLargeSegmentsAreSplit lowers the copy range (64 MiB) to 10 MiB and
// the part count limit (10,000) to a few, so a 25 MiB append must be
// copied in ranges and many segments through intermediate objects.
func TestLargeSegmentsAreSplit(t *testing.T) {
	e := newEnv(t, "")
	e.opts.PartSize = 5 << 20
	for _, tc := range []struct {
		name     string
		copyPart int64
		maxParts int
		chunks   []int
	}{
		// A streamed (multipart) segment and a short one: the first is
		// copied in three ranges.
		{"a segment over the copy range", 10 << 20, 10000, []int{25 << 20, 100}},
		// Two streamed segments, each copied whole.
		{"two segments copied whole", 64 << 20, 10000, []int{6 << 20, 20 << 20}},
		// Six pieces (the 12 MiB segment is two), at most four parts:
		// intermediates of 24 MiB (three pieces) and 6 MiB.
		{"more pieces than parts", 10 << 20, 4, []int{6 << 20, 6 << 20, 12 << 20, 6 << 20, 100}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := e.store(t)
			s3blob.SetLimits(s, tc.copyPart, tc.maxParts)
			var chunks [][]byte
			for i, n := range tc.chunks {
				chunks = append(chunks, blobtest.Content(uint64(20+i), n))
			}
			st, err := s.CreateUpload(t.Context(), blobtest.NewUploadID())
			if err != nil {
				t.Fatal(err)
			}
			st, off := appendAll(t, s, st, 0, chunks...)
			want := slices.Concat(chunks...)
			d := digest.FromBytes(want)
			if err := s.CommitUpload(t.Context(), st, off, d); err != nil {
				t.Fatalf("CommitUpload: %v", err)
			}
			checkBlob(t, s, d, want)
		})
	}
	t.Run("append over the part limit", func(t *testing.T) {
		busy := e
		busy.opts.PartBudget = -1 // parts of one 5 MiB buffer
		s := busy.store(t)
		s3blob.SetLimits(s, 10<<20, 3)
		st, err := s.CreateUpload(t.Context(), blobtest.NewUploadID())
		if err != nil {
			t.Fatal(err)
		}
		big := blobtest.Content(30, 16<<20)
		if _, _, err := s.AppendUpload(t.Context(), st, 0, bytes.NewReader(big)); err == nil {
			t.Fatal("an append of 4 parts with a limit of 3 succeeded")
		}
		// The failed append's multipart upload was aborted.
		mp, err := e.s3.ListMultipartUploads(t.Context(), e.bucket, "")
		if err != nil || len(mp) != 0 {
			t.Fatalf("multipart uploads left: %d, %v", len(mp), err)
		}
	})
}

// TestChangedSegmentIsNotCommitted replaces a segment behind the store's
// back: the commit, conditional on the recorded ETag, fails and leaves
// no blob.
func TestChangedSegmentIsNotCommitted(t *testing.T) {
	e := newEnv(t, "p")
	s := e.store(t)
	id := blobtest.NewUploadID()
	st, err := s.CreateUpload(t.Context(), id)
	if err != nil {
		t.Fatal(err)
	}
	content := []byte("the recorded bytes")
	st, off := appendAll(t, s, st, 0, content)
	c := e.s3.Client()
	list, err := c.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: &e.bucket, Prefix: aws.String("p/uploads/" + id + "/")})
	if err != nil {
		t.Fatal(err)
	}
	var seg string
	for _, o := range list.Contents {
		if !strings.HasSuffix(*o.Key, "/live") {
			seg = *o.Key
		}
	}
	if _, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: &e.bucket, Key: &seg,
		Body: strings.NewReader("other bytes, same size")}); err != nil {
		t.Fatal(err)
	}
	d := digest.FromBytes(content)
	if err := s.CommitUpload(t.Context(), st, off, d); !errors.Is(err, blobstore.ErrOffsetMismatch) {
		t.Fatalf("CommitUpload of a changed segment: err = %v, want ErrOffsetMismatch", err)
	}
	if _, err := s.Stat(t.Context(), d); !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("Stat after failed commit: %v, want ErrNotFound", err)
	}
	if rc, err := s.ReadUpload(t.Context(), st, off); err == nil {
		_, err = io.ReadAll(rc)
		rc.Close()
		if err == nil {
			t.Fatal("ReadUpload of a changed segment succeeded")
		}
	}
}

// TestRemoveStaleUploads sweeps uploads, orphaned objects and dangling
// multipart uploads, and leaves recent ones and foreign keys alone.
func TestRemoveStaleUploads(t *testing.T) {
	e := newEnv(t, "sweep")
	s := e.store(t)
	ctx := t.Context()
	mk := func(content []byte) blobstore.UploadState {
		st, err := s.CreateUpload(ctx, blobtest.NewUploadID())
		if err != nil {
			t.Fatal(err)
		}
		st, _ = appendAll(t, s, st, 0, content)
		return st
	}
	mk([]byte("one"))
	mk(blobtest.Content(40, 6<<20))
	st3 := mk([]byte("three"))
	c := e.s3.Client()
	// A multipart upload of an append that died, and one of a commit.
	for _, key := range []string{"sweep/uploads/" + blobtest.NewUploadID() + "/0123456789abcdef0123456789abcdef",
		"sweep/blobs/sha256/ab/ab" + strings.Repeat("0", 62)} {
		if _, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &e.bucket, Key: aws.String(key)}); err != nil {
			t.Fatal(err)
		}
	}
	// Keys that are not uploads, inside and outside the prefix.
	for _, key := range []string{"sweep/uploads/not-an-upload", "elsewhere/uploads/x"} {
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &e.bucket, Key: aws.String(key), Body: strings.NewReader("x")}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.RemoveStaleUploads(ctx, time.Now().Add(-time.Hour)); err != nil || n != 0 {
		t.Fatalf("RemoveStaleUploads of an hour ago = %d, %v; want 0", n, err)
	}
	if n, err := s.RemoveStaleUploads(ctx, time.Now().Add(time.Hour)); err != nil || n != 5 {
		t.Fatalf("RemoveStaleUploads = %d, %v; want 3 uploads and 2 multipart uploads", n, err)
	}
	list, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &e.bucket})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range list.Contents {
		keys = append(keys, *o.Key)
	}
	if !slices.Equal(keys, []string{"elsewhere/uploads/x", "sweep/uploads/not-an-upload"}) {
		t.Fatalf("left after sweep: %q", keys)
	}
	mp, err := e.s3.ListMultipartUploads(ctx, e.bucket, "")
	if err != nil || len(mp) != 0 {
		t.Fatalf("multipart uploads left: %d, %v", len(mp), err)
	}
	if _, _, err := s.AppendUpload(ctx, st3, 5, strings.NewReader("more")); !errors.Is(err, blobstore.ErrNotFound) {
		t.Fatalf("AppendUpload to a swept upload: %v, want ErrNotFound", err)
	}
}

// TestRedirectURL fetches a blob with a plain GET of its presigned URL,
// and checks that the URL expires.
func TestRedirectURL(t *testing.T) {
	e := newEnv(t, "r")
	e.opts.RedirectExpiry = 2 * time.Second
	s := e.store(t)
	content := blobtest.Content(50, 70_000)
	d := digest.FromBytes(content)
	st, off := appendAll(t, s, mustCreate(t, s), 0, content)
	if err := s.CommitUpload(t.Context(), st, off, d); err != nil {
		t.Fatal(err)
	}
	u, err := s.RedirectURL(t.Context(), d)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(u, e.opts.Endpoint+"/"+e.bucket+"/r/blobs/sha256/") || !strings.Contains(u, "X-Amz-Signature=") {
		t.Fatalf("RedirectURL = %s", u)
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !bytes.Equal(got, content) {
		t.Fatalf("GET presigned URL: %s, %d bytes", resp.Status, len(got))
	}
	time.Sleep(3 * time.Second)
	resp, err = http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("GET expired presigned URL: %s, want 403", resp.Status)
	}
}

func mustCreate(t *testing.T, s blobstore.Store) blobstore.UploadState {
	t.Helper()
	st, err := s.CreateUpload(t.Context(), blobtest.NewUploadID())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestAppendMemoryIsBounded streams 96 MiB in one append and checks that
// the store allocated a small multiple of its part size, not the blob.
func TestAppendMemoryIsBounded(t *testing.T) {
	for _, tc := range []struct {
		name     string
		budget   int64
		minBufs  int64 // part buffers the append must have grown to
		maxBufs  int64 // part buffers one append may hold
		maxAlloc int64
	}{
		// No budget for larger parts: two buffers, as on a busy store.
		{"busy store", -1, 1, 2, 40 << 20},
		// An idle store grows parts to 32 MiB: two parts of four buffers.
		{"idle store", 0, 5, 8, 80 << 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, "")
			e.opts.PartBudget = tc.budget
			s := e.store(t)
			st := mustCreate(t, s)
			const size = 96 << 20
			src := io.LimitReader(&patternReader{}, size)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			n, _, err := s.AppendUpload(t.Context(), st, 0, src)
			runtime.ReadMemStats(&after)
			if err != nil || n != size {
				t.Fatalf("AppendUpload = %d, %v", n, err)
			}
			alloc := after.TotalAlloc - before.TotalAlloc
			t.Logf("one 96 MiB append allocated %.1f MiB (part size %d MiB), held at most %d part buffers",
				float64(alloc)/(1<<20), s3blob.DefaultPartSize>>20, s3blob.PeakBuffers(s))
			if peak := s3blob.PeakBuffers(s); peak > tc.maxBufs || peak < tc.minBufs {
				t.Fatalf("one append held %d part buffers at once; want %d to %d", peak, tc.minBufs, tc.maxBufs)
			}
			// Heap allocations only (on Linux the buffers are mapped off the heap);
			// the race detector inflates them.
			if !raceEnabled && alloc > uint64(tc.maxAlloc) {
				t.Fatalf("one 96 MiB append allocated %d MiB; want at most %d", alloc>>20, tc.maxAlloc>>20)
			}
		})
	}
}

// patternReader yields an endless cheap byte pattern.
type patternReader struct{ n byte }

func (p *patternReader) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = p.n
		p.n++
	}
	return len(b), nil
}

func TestPing(t *testing.T) {
	e := newEnv(t, "")
	if err := e.store(t).Ping(t.Context()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	e.opts.Bucket = "no-such-bucket-" + strings.ToLower(blobtest.NewUploadID()[:8])
	err := e.store(t).Ping(t.Context())
	if err == nil {
		t.Fatal("Ping of a missing bucket succeeded")
	}
	// Stat of any key of a missing bucket says 404 too, which is why
	// readiness needs Ping.
	e.opts.SecretAccessKey = "wrong"
	if err := e.store(t).Ping(t.Context()); err == nil {
		t.Fatal("Ping with a wrong secret succeeded")
	}
}

func TestOptions(t *testing.T) {
	ctx := context.Background()
	for _, o := range []s3blob.Options{
		{},
		{Bucket: "b", AccessKeyID: "only-id"},
		{Bucket: "b", PartSize: 1 << 20},
		{Bucket: "b", RedirectExpiry: 8 * 24 * time.Hour},
		{Bucket: "b", Prefix: "a//b"},
		{Bucket: "b", Prefix: "a/../b"},
		{Bucket: "b", Prefix: "sp ace"},
		{Bucket: "b", CAFile: "/nonexistent/ca.pem"},
	} {
		if _, err := s3blob.New(ctx, o); err == nil {
			t.Errorf("New(%+v) succeeded", o)
		}
	}
}

// TestTLS runs against a MinIO serving HTTPS with a certificate from a
// private CA: refused without the CA, working with CAFile (payloads then
// go unsigned, protected by TLS) and with InsecureSkipVerify.
func TestTLS(t *testing.T) {
	m := testenv.MinIOTLS(t)
	base := s3blob.Options{Bucket: m.Bucket(t), Endpoint: m.Endpoint, Region: m.Region, PathStyle: true,
		AccessKeyID: m.AccessKey, SecretAccessKey: m.SecretKey}
	s, err := s3blob.New(t.Context(), base)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(t.Context()); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("Ping without the CA: %v, want a certificate error", err)
	}
	insecure := base
	insecure.InsecureSkipVerify = true
	s, err = s3blob.New(t.Context(), insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Fatalf("Ping skipping verification: %v", err)
	}
	trusted := base
	trusted.CAFile = m.CAFile
	s, err = s3blob.New(t.Context(), trusted)
	if err != nil {
		t.Fatal(err)
	}
	a, b := blobtest.Content(60, 9<<20), blobtest.Content(61, 1000)
	st, off := appendAll(t, s, mustCreate(t, s), 0, a, b)
	want := slices.Concat(a, b)
	d := digest.FromBytes(want)
	if err := s.CommitUpload(t.Context(), st, off, d); err != nil {
		t.Fatalf("CommitUpload over TLS: %v", err)
	}
	checkBlob(t, s, d, want)
}
