package registry_test

import (
	"bytes"
	"context"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/opencontainers/go-digest"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/berth-registry/berth/internal/registry"
	rt "github.com/berth-registry/berth/internal/registry/registrytest"
)

var (
	root = rt.Root(rt.Account)
	repo = rt.Ref(rt.Account, "app")
	ctx  = context.Background()
)

// newEnv returns an Env with repository "app" in the default account.
func newEnv(t *testing.T, opts registry.Options) *rt.Env {
	t.Helper()
	e := rt.New(t, opts)
	e.CreateRepository(t, rt.Account, "app")
	return e
}

func start(t *testing.T, s *registry.Service) string {
	t.Helper()
	st, err := s.StartUpload(ctx, root, repo)
	if err != nil {
		t.Fatalf("StartUpload: %v", err)
	}
	if st.Offset != 0 {
		t.Fatalf("new upload at offset %d, want 0", st.Offset)
	}
	if _, err := uuid.Parse(st.ID); err != nil {
		t.Fatalf("upload id %q is not a UUID: %v", st.ID, err)
	}
	return st.ID
}

func appendChunk(t *testing.T, s *registry.Service, id string, at int64, chunk string) {
	t.Helper()
	st, err := s.AppendUpload(ctx, root, repo, id, at, int64(len(chunk)), strings.NewReader(chunk))
	if err != nil {
		t.Fatalf("AppendUpload at %d: %v", at, err)
	}
	if want := at + int64(len(chunk)); at >= 0 && st.Offset != want {
		t.Fatalf("offset after append = %d, want %d", st.Offset, want)
	}
}

func wantKind(t *testing.T, err, kind error) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("err = %v, want %v", err, kind)
	}
}

func offsetOf(t *testing.T, e *rt.Env, id string) int64 {
	t.Helper()
	st, err := e.Service.GetUpload(ctx, root, repo, id)
	if err != nil {
		t.Fatalf("GetUpload: %v", err)
	}
	return st.Offset
}

// TestChunkedUpload resumes the running hash across requests served by two
// nodes: a hash state that is not saved and restored makes the digest wrong.
func TestChunkedUpload(t *testing.T) {
	t.Parallel()
	e := newEnv(t, registry.Options{})
	other := e.Node(t)
	id := start(t, e.Service)
	appendChunk(t, e.Service, id, 0, "hello, ")
	appendChunk(t, other, id, 7, "chunked ")
	if _, err := e.Service.AppendUpload(ctx, root, repo, id, -1, -1, strings.NewReader("world")); err != nil {
		t.Fatalf("streamed append: %v", err)
	}
	if got := offsetOf(t, e, id); got != 20 {
		t.Fatalf("offset = %d, want 20", got)
	}
	content := []byte("hello, chunked world!")
	want := digest.FromBytes(content)
	got, err := other.CompleteUpload(ctx, root, repo, id, want.String(), 20, 1, strings.NewReader("!"))
	if err != nil {
		t.Fatalf("CompleteUpload: %v", err)
	}
	if got != want {
		t.Fatalf("digest = %s, want %s", got, want)
	}
	if b := e.BlobBytes(t, want); !bytes.Equal(b, content) {
		t.Fatalf("stored %q, want %q", b, content)
	}
	if _, size, err := e.Service.StatBlob(ctx, root, repo, want.String()); err != nil || size != int64(len(content)) {
		t.Fatalf("StatBlob = %d, %v; want %d", size, err, len(content))
	}
	_, err = e.Service.GetUpload(ctx, root, repo, id)
	wantKind(t, err, registry.ErrUploadUnknown)
	if f := e.UploadFiles(t); len(f) != 0 {
		t.Fatalf("upload files left after completion: %v", f)
	}
}

func TestUploadErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		max  int64
		run  func(t *testing.T, e *rt.Env, id string) error
		kind error
		// offset is where the upload must stand afterwards.
		offset int64
	}{
		{"chunk out of order", 0, func(t *testing.T, e *rt.Env, id string) error {
			st, err := e.Service.AppendUpload(ctx, root, repo, id, 9, 3, strings.NewReader("abc"))
			if st.Offset != 4 {
				t.Errorf("status offset = %d, want 4", st.Offset)
			}
			if d, _ := registry.Detail(err).(map[string]int64); d["offset"] != 4 {
				t.Errorf("detail = %#v, want offset 4", registry.Detail(err))
			}
			return err
		}, registry.ErrRangeInvalid, 4},
		{"chunk repeated", 0, func(t *testing.T, e *rt.Env, id string) error {
			_, err := e.Service.AppendUpload(ctx, root, repo, id, 0, 4, strings.NewReader("abcd"))
			return err
		}, registry.ErrRangeInvalid, 4},
		{"final chunk out of order", 0, func(t *testing.T, e *rt.Env, id string) error {
			_, err := e.Service.CompleteUpload(ctx, root, repo, id, digest.FromString("abcdx").String(), 3, 1, strings.NewReader("x"))
			return err
		}, registry.ErrRangeInvalid, 4},
		{"declared length over limit", 10, func(t *testing.T, e *rt.Env, id string) error {
			_, err := e.Service.AppendUpload(ctx, root, repo, id, 4, 7, strings.NewReader("1234567"))
			return err
		}, registry.ErrSizeInvalid, 4},
		{"streamed body over limit", 10, func(t *testing.T, e *rt.Env, id string) error {
			_, err := e.Service.AppendUpload(ctx, root, repo, id, -1, -1, strings.NewReader("1234567"))
			return err
		}, registry.ErrSizeInvalid, 4},
		{"final chunk over limit", 10, func(t *testing.T, e *rt.Env, id string) error {
			_, err := e.Service.CompleteUpload(ctx, root, repo, id, digest.FromString("abcd1234567").String(), -1, -1,
				strings.NewReader("1234567"))
			return err
		}, registry.ErrSizeInvalid, 4},
		{"body shorter than length", 0, func(t *testing.T, e *rt.Env, id string) error {
			_, err := e.Service.AppendUpload(ctx, root, repo, id, 4, 10, strings.NewReader("12345"))
			return err
		}, registry.ErrSizeInvalid, 4},
		{"malformed completion digest", 0, func(t *testing.T, e *rt.Env, id string) error {
			_, err := e.Service.CompleteUpload(ctx, root, repo, id, "sha256:ABC", -1, 0, nil)
			return err
		}, registry.ErrDigestInvalid, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, registry.Options{MaxBlobSize: tc.max})
			id := start(t, e.Service)
			appendChunk(t, e.Service, id, 0, "abcd")
			wantKind(t, tc.run(t, e, id), tc.kind)
			if got := offsetOf(t, e, id); got != tc.offset {
				t.Fatalf("offset after failure = %d, want %d", got, tc.offset)
			}
			// The session is intact: the rest of the blob still completes.
			d := digest.FromString("abcdef")
			if _, err := e.Service.CompleteUpload(ctx, root, repo, id, d.String(), 4, 2, strings.NewReader("ef")); err != nil {
				t.Fatalf("complete after failure: %v", err)
			}
			if b := e.BlobBytes(t, d); string(b) != "abcdef" {
				t.Fatalf("stored %q, want abcdef", b)
			}
		})
	}
}

func TestUploadUnknown(t *testing.T) {
	t.Parallel()
	e := newEnv(t, registry.Options{})
	e.CreateRepository(t, rt.Account, "other")
	id := start(t, e.Service)
	for _, tc := range []struct {
		name string
		r    registry.RepoRef
		id   string
	}{
		{"random uuid", repo, uuid.NewString()},
		{"not a uuid", repo, "../../etc/passwd"},
		{"empty", repo, ""},
		{"session of another repository", rt.Ref(rt.Account, "other"), id},
	} {
		_, err := e.Service.GetUpload(ctx, root, tc.r, tc.id)
		if !errors.Is(err, registry.ErrUploadUnknown) {
			t.Errorf("%s: GetUpload err = %v, want ErrUploadUnknown", tc.name, err)
		}
		_, err = e.Service.AppendUpload(ctx, root, tc.r, tc.id, -1, 1, strings.NewReader("x"))
		if !errors.Is(err, registry.ErrUploadUnknown) {
			t.Errorf("%s: AppendUpload err = %v, want ErrUploadUnknown", tc.name, err)
		}
	}
}

// TestCompleteWrongDigest: a mismatch stores nothing and ends the session.
func TestCompleteWrongDigest(t *testing.T) {
	t.Parallel()
	e := newEnv(t, registry.Options{})
	id := start(t, e.Service)
	appendChunk(t, e.Service, id, 0, "actual")
	claimed := digest.FromString("claimed")
	_, err := e.Service.CompleteUpload(ctx, root, repo, id, claimed.String(), -1, 0, nil)
	wantKind(t, err, registry.ErrDigestInvalid)
	if msg := registry.Message(err); !strings.Contains(msg, "nothing was stored") || !strings.Contains(msg, claimed.String()) {
		t.Errorf("message %q does not name the digest and say nothing was stored", msg)
	}
	for _, d := range []digest.Digest{claimed, digest.FromString("actual")} {
		_, _, err := e.Service.StatBlob(ctx, root, repo, d.String())
		wantKind(t, err, registry.ErrBlobUnknown)
	}
	if n := e.StoredBlobs(t); n != 0 {
		t.Errorf("%d blobs in the blob store, want 0", n)
	}
	_, err = e.Service.GetUpload(ctx, root, repo, id)
	wantKind(t, err, registry.ErrUploadUnknown)
	if f := e.UploadFiles(t); len(f) != 0 {
		t.Errorf("upload bytes left behind: %v", f)
	}
}

// TestCompleteSHA512 completes an upload hashed with sha256 under a sha512
// digest, which reads the bytes back.
func TestCompleteSHA512(t *testing.T) {
	t.Parallel()
	e := newEnv(t, registry.Options{})
	id := start(t, e.Service)
	appendChunk(t, e.Service, id, 0, "sha512 ")
	content := []byte("sha512 content")
	sum := sha512.Sum512(content)
	want := digest.NewDigestFromEncoded(digest.SHA512, hex.EncodeToString(sum[:]))
	got, err := e.Service.CompleteUpload(ctx, root, repo, id, want.String(), 7, 7, strings.NewReader("content"))
	if err != nil {
		t.Fatalf("CompleteUpload: %v", err)
	}
	if got != want {
		t.Fatalf("digest = %s, want %s", got, want)
	}
	if b := e.BlobBytes(t, want); !bytes.Equal(b, content) {
		t.Fatalf("stored %q, want %q", b, content)
	}
	if _, size, err := e.Service.StatBlob(ctx, root, repo, want.String()); err != nil || size != int64(len(content)) {
		t.Fatalf("StatBlob = %d, %v", size, err)
	}

	// A wrong sha512 is caught on the read-back path too.
	id = start(t, e.Service)
	appendChunk(t, e.Service, id, 0, "other")
	_, err = e.Service.CompleteUpload(ctx, root, repo, id, want.String(), -1, 0, nil)
	wantKind(t, err, registry.ErrDigestInvalid)
}

// bumpingReader advances the upload's offset in the metadata store, as a
// writer on another node would, when the append first reads its body.
type bumpingReader struct {
	once sync.Once
	bump func()
	r    io.Reader
}

func (b *bumpingReader) Read(p []byte) (int, error) {
	b.once.Do(b.bump)
	return b.r.Read(p)
}

func TestAppendCASConflict(t *testing.T) {
	t.Parallel()
	e := newEnv(t, registry.Options{})
	id := start(t, e.Service)
	appendChunk(t, e.Service, id, 0, "abc")
	r, err := e.Meta.GetRepository(ctx, rt.Account, "app")
	if err != nil {
		t.Fatal(err)
	}
	body := &bumpingReader{r: strings.NewReader("def"), bump: func() {
		u, err := e.Meta.GetUpload(ctx, r.ID, id)
		if err != nil {
			t.Errorf("GetUpload: %v", err)
			return
		}
		next := u
		next.Offset = 5
		if err := e.Meta.UpdateUpload(ctx, next, u.Offset); err != nil {
			t.Errorf("UpdateUpload: %v", err)
		}
	}}
	_, err = e.Service.AppendUpload(ctx, root, repo, id, 3, 3, body)
	wantKind(t, err, registry.ErrRangeInvalid)
	if !strings.Contains(registry.Message(err), "concurrently") {
		t.Errorf("message %q does not say the upload was modified concurrently", registry.Message(err))
	}
	if got := offsetOf(t, e, id); got != 5 {
		t.Fatalf("offset = %d, want the other writer's 5", got)
	}
}

// TestConcurrentNodesKeepBlobsIntact: two nodes append different bytes to
// one upload at the same offset. One loses the compare-and-swap; whatever
// is then committed must hold exactly the bytes its digest names.
func TestConcurrentNodesKeepBlobsIntact(t *testing.T) {
	t.Parallel()
	e := newEnv(t, registry.Options{})
	nodeA, nodeB := e.Service, e.Node(t)
	id := start(t, nodeA)
	body := &bumpingReader{r: strings.NewReader("aaaa"), bump: func() {
		if _, err := nodeB.AppendUpload(ctx, root, repo, id, 0, 3, strings.NewReader("bbb")); err != nil {
			t.Errorf("node B append: %v", err)
		}
	}}
	_, err := nodeA.AppendUpload(ctx, root, repo, id, 0, 4, body)
	wantKind(t, err, registry.ErrRangeInvalid)
	want := digest.FromString("bbb")
	got, err := nodeB.CompleteUpload(ctx, root, repo, id, want.String(), -1, 0, nil)
	if err != nil {
		t.Logf("completion refused (acceptable): %v", err)
		return
	}
	if b := e.BlobBytes(t, got); digest.FromBytes(b) != got {
		t.Fatalf("blob %s holds %q, whose digest is %s: the losing append overwrote the winner's bytes",
			got, b, digest.FromBytes(b))
	}
}

// TestConcurrentAppendsOneNode: streamed appends to one upload on one node
// are serialized, so none is lost to a compare-and-swap conflict.
func TestConcurrentAppendsOneNode(t *testing.T) {
	t.Parallel()
	e := newEnv(t, registry.Options{})
	id := start(t, e.Service)
	const writers = 8
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			if _, err := e.Service.AppendUpload(ctx, root, repo, id, -1, 4, strings.NewReader("0123")); err != nil {
				t.Errorf("AppendUpload: %v", err)
			}
		})
	}
	wg.Wait()
	if got := offsetOf(t, e, id); got != 4*writers {
		t.Fatalf("offset = %d, want %d", got, 4*writers)
	}
	want := digest.FromString(strings.Repeat("0123", writers))
	if _, err := e.Service.CompleteUpload(ctx, root, repo, id, want.String(), -1, 0, nil); err != nil {
		t.Fatalf("CompleteUpload: %v", err)
	}
}

// TestEmptyUpload completes a session that never received a byte.
func TestEmptyUpload(t *testing.T) {
	t.Parallel()
	e := newEnv(t, registry.Options{})
	id := start(t, e.Service)
	want := digest.FromBytes(nil)
	if got, err := e.Service.CompleteUpload(ctx, root, repo, id, want.String(), -1, 0, nil); err != nil || got != want {
		t.Fatalf("CompleteUpload = %s, %v; want %s", got, err, want)
	}
	if _, size, err := e.Service.StatBlob(ctx, root, repo, want.String()); err != nil || size != 0 {
		t.Fatalf("StatBlob = %d, %v", size, err)
	}
}

func TestCancelUpload(t *testing.T) {
	t.Parallel()
	e := newEnv(t, registry.Options{})
	id := start(t, e.Service)
	appendChunk(t, e.Service, id, 0, "doomed")
	if len(e.UploadFiles(t)) != 1 {
		t.Fatalf("upload files = %v, want one", e.UploadFiles(t))
	}
	if err := e.Service.CancelUpload(ctx, root, repo, id); err != nil {
		t.Fatalf("CancelUpload: %v", err)
	}
	_, err := e.Service.GetUpload(ctx, root, repo, id)
	wantKind(t, err, registry.ErrUploadUnknown)
	if f := e.UploadFiles(t); len(f) != 0 {
		t.Fatalf("upload bytes left: %v", f)
	}
	wantKind(t, e.Service.CancelUpload(ctx, root, repo, id), registry.ErrUploadUnknown)
}

func TestPutBlob(t *testing.T) {
	t.Parallel()
	content := []byte("monolithic blob")
	sum := sha512.Sum512(content)
	sha512d := digest.NewDigestFromEncoded(digest.SHA512, hex.EncodeToString(sum[:]))
	tests := []struct {
		name   string
		max    int64
		digest digest.Digest
		length int64
		body   []byte
		kind   error // nil: stored
	}{
		{"sha256", 0, digest.FromBytes(content), int64(len(content)), content, nil},
		{"sha512", 0, sha512d, int64(len(content)), content, nil},
		{"unknown length", 0, digest.FromBytes(content), -1, content, nil},
		{"exactly the limit", int64(len(content)), digest.FromBytes(content), -1, content, nil},
		{"empty blob", 0, digest.FromBytes(nil), 0, []byte{}, nil},
		{"wrong digest", 0, digest.FromString("else"), int64(len(content)), content, registry.ErrDigestInvalid},
		{"malformed digest", 0, "sha256:xyz", int64(len(content)), content, registry.ErrDigestInvalid},
		{"unsupported digest", 0, "md5:d41d8cd98f00b204e9800998ecf8427e", int64(len(content)), content, registry.ErrDigestInvalid},
		{"declared length over limit", 4, digest.FromBytes(content), int64(len(content)), content, registry.ErrSizeInvalid},
		{"streamed body over limit", 4, digest.FromBytes(content), -1, content, registry.ErrSizeInvalid},
		{"length disagrees", 0, digest.FromBytes(content), 3, content, registry.ErrSizeInvalid},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, registry.Options{MaxBlobSize: tc.max})
			got, err := e.Service.PutBlob(ctx, root, repo, tc.digest.String(), tc.length, bytes.NewReader(tc.body))
			if tc.kind != nil {
				wantKind(t, err, tc.kind)
				if n := e.StoredBlobs(t); n != 0 {
					t.Errorf("%d blobs stored after a failed push", n)
				}
				if f := e.UploadFiles(t); len(f) != 0 {
					t.Errorf("upload bytes left: %v", f)
				}
				return
			}
			if err != nil || got != tc.digest {
				t.Fatalf("PutBlob = %s, %v; want %s", got, err, tc.digest)
			}
			if b := e.BlobBytes(t, got); !bytes.Equal(b, tc.body) {
				t.Fatalf("stored %q", b)
			}
			if _, size, err := e.Service.StatBlob(ctx, root, repo, got.String()); err != nil || size != int64(len(tc.body)) {
				t.Fatalf("StatBlob = %d, %v", size, err)
			}
		})
	}
}

// TestExpireUploads removes sessions idle longer than UploadExpiry, with
// their bytes, and keeps the others.
func TestExpireUploads(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewPedanticRegistry()
	metrics, err := registry.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, registry.Options{UploadExpiry: time.Hour, Metrics: metrics})
	stale := start(t, e.Service)
	appendChunk(t, e.Service, stale, 0, "stale bytes")
	e.Clock.Advance(50 * time.Minute)
	fresh := start(t, e.Service)
	appendChunk(t, e.Service, fresh, 0, "fresh")
	e.Clock.Advance(20 * time.Minute) // stale idle 70m, fresh 20m

	n, err := e.Service.ExpireUploads(ctx)
	if err != nil || n != 1 {
		t.Fatalf("ExpireUploads = %d, %v; want 1", n, err)
	}
	_, err = e.Service.GetUpload(ctx, root, repo, stale)
	wantKind(t, err, registry.ErrUploadUnknown)
	if got := offsetOf(t, e, fresh); got != 5 {
		t.Fatalf("fresh upload offset = %d, want 5", got)
	}
	if f := e.UploadFiles(t); len(f) != 1 || f[0] != fresh {
		t.Fatalf("upload files = %v, want only %s", f, fresh)
	}

	// An append keeps a session alive.
	e.Clock.Advance(50 * time.Minute)
	appendChunk(t, e.Service, fresh, 5, "!")
	e.Clock.Advance(50 * time.Minute)
	if n, err := e.Service.ExpireUploads(ctx); err != nil || n != 0 {
		t.Fatalf("ExpireUploads after activity = %d, %v; want 0", n, err)
	}
	e.Clock.Advance(11 * time.Minute)
	if n, err := e.Service.ExpireUploads(ctx); err != nil || n != 1 {
		t.Fatalf("ExpireUploads = %d, %v; want 1", n, err)
	}
	if f := e.UploadFiles(t); len(f) != 0 {
		t.Fatalf("upload files left: %v", f)
	}
	want := `
# HELP berth_upload_sessions_expired_total Idle upload sessions removed after the upload expiry.
# TYPE berth_upload_sessions_expired_total counter
berth_upload_sessions_expired_total 2
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "berth_upload_sessions_expired_total"); err != nil {
		t.Error(err)
	}
}

// brokenBody yields its bytes, then fails as a request body does when the
// client goes away mid-body.
type brokenBody struct{ r io.Reader }

func (b brokenBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		return n, io.ErrUnexpectedEOF
	}
	return n, err
}

// TestAppendBodyCutOff: a chunk whose body breaks off is the client's
// error (BLOB_UPLOAD_INVALID, not a 500), records nothing, and the upload
// goes on from where it was; a monolithic upload likewise stores nothing.
func TestAppendBodyCutOff(t *testing.T) {
	t.Parallel()
	e := newEnv(t, registry.Options{})
	id := start(t, e.Service)
	appendChunk(t, e.Service, id, 0, "hello, ")
	_, err := e.Service.AppendUpload(ctx, root, repo, id, -1, -1, brokenBody{strings.NewReader("half a chu")})
	wantKind(t, err, registry.ErrUploadInvalid)
	if got := offsetOf(t, e, id); got != 7 {
		t.Fatalf("offset after a cut-off chunk = %d, want 7", got)
	}
	appendChunk(t, e.Service, id, 7, "world")
	content := []byte("hello, world")
	want := digest.FromBytes(content)
	if _, err := e.Service.CompleteUpload(ctx, root, repo, id, want.String(), -1, -1, strings.NewReader("")); err != nil {
		t.Fatalf("CompleteUpload after the cut-off chunk: %v", err)
	}
	if b := e.BlobBytes(t, want); !bytes.Equal(b, content) {
		t.Fatalf("stored %q, want %q", b, content)
	}

	mono := []byte("a monolithic blob")
	_, err = e.Service.PutBlob(ctx, root, repo, digest.FromBytes(mono).String(), -1, brokenBody{bytes.NewReader(mono)})
	wantKind(t, err, registry.ErrUploadInvalid)
}
