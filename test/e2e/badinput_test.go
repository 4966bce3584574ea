package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// registryState is what a client can see of a registry: each repository's
// tags and the digests they name.
type registryState map[string]map[string]string

func snapshot(t *testing.T, ctx context.Context, s *server) registryState {
	t.Helper()
	repos, err := remote.Catalog(ctx, s.registry(t), remoteOpts(ctx)...)
	if err != nil {
		t.Fatalf("catalog: %v", err)
	}
	st := registryState{}
	for _, r := range repos {
		repo := s.repo(t, r)
		tags, err := remote.List(repo, remoteOpts(ctx)...)
		if err != nil {
			t.Fatalf("tags of %s: %v", r, err)
		}
		st[r] = map[string]string{}
		for _, tag := range tags {
			d, err := remote.Head(repo.Tag(tag), remoteOpts(ctx)...)
			if err != nil {
				t.Fatalf("head %s:%s: %v", r, tag, err)
			}
			st[r][tag] = d.Digest.String()
		}
	}
	return st
}

func (st registryState) equal(o registryState) bool {
	return maps.EqualFunc(st, o, func(a, b map[string]string) bool { return maps.Equal(a, b) })
}

// location is the path and query of an upload's Location header, with
// extra query parameters added.
func location(t testing.TB, r rawResponse, extra string) string {
	t.Helper()
	u, err := url.Parse(r.Header.Get("Location"))
	if err != nil || u.Path == "" {
		t.Fatalf("bad Location %q (status %d, body %.200s)", r.Header.Get("Location"), r.Status, r.Body)
	}
	if extra != "" {
		if u.RawQuery != "" {
			u.RawQuery += "&"
		}
		u.RawQuery += extra
	}
	return u.RequestURI()
}

// startUpload opens an upload session in repository and returns its path.
func startUpload(t testing.TB, s *server, repository string) string {
	t.Helper()
	r := s.do(t, http.MethodPost, "/v2/"+repository+"/blobs/uploads/", nil, nil)
	if r.Status != http.StatusAccepted {
		t.Fatalf("start upload: status %d: %s", r.Status, r.Body)
	}
	return location(t, r, "")
}

func patchChunk(t testing.TB, s *server, loc string, start int, chunk []byte) rawResponse {
	t.Helper()
	return s.do(t, http.MethodPatch, loc, bytes.NewReader(chunk), map[string]string{
		"Content-Type":  "application/octet-stream",
		"Content-Range": fmt.Sprintf("%d-%d", start, start+len(chunk)-1),
	})
}

func blobPath(dataDir, dgst string) string {
	hexPart := strings.TrimPrefix(dgst, "sha256:")
	return filepath.Join(dataDir, "blobs", "blobs", "sha256", hexPart[:2], hexPart)
}

// uploadFiles lists what is left under the data directory's upload area.
func uploadFiles(t testing.TB, dataDir string) []string {
	t.Helper()
	var files []string
	root := filepath.Join(dataDir, "blobs", "uploads")
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, path)
		}
		return err
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatalf("walk %s: %v", root, err)
	}
	return files
}

// TestBadInputChangesNothing sends requests that must all be refused with
// the right OCI error, and checks that afterwards every repository, tag
// and digest is as it was and no upload is left behind.
func TestBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	s := startBerth(t, withCreateOnPush())
	ctx := testContext(t, 2*time.Minute)
	base := randomImage(t, 512, 2)
	if err := remote.Write(s.repo(t, "bad/base").Tag("v1"), base, remoteOpts(ctx)...); err != nil {
		t.Fatal(err)
	}
	if err := remote.Tag(s.repo(t, "bad/base").Tag("v2"), base, remoteOpts(ctx)...); err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(s.repo(t, "bad/other").Tag("latest"), randomImage(t, 256, 1), remoteOpts(ctx)...); err != nil {
		t.Fatal(err)
	}
	before := snapshot(t, ctx, s)

	// Sequential subtests (well under a second in all): parallel ones would
	// queue for the package's parallel slots behind long tests while ctx's
	// deadline runs.
	t.Run("refused", func(t *testing.T) {
		t.Run("oversized manifest", func(t *testing.T) { oversizedManifest(t, s) })
		t.Run("malformed manifest", func(t *testing.T) { malformedManifests(t, s, base) })
		t.Run("digest mismatch", func(t *testing.T) { digestMismatch(t, s, base) })
		t.Run("hostile names", func(t *testing.T) { hostileNames(t, s, base) })
		t.Run("pagination", func(t *testing.T) { badPagination(t, s) })
		t.Run("out-of-order chunks", func(t *testing.T) { outOfOrderChunks(t, s) })
		t.Run("missing references", func(t *testing.T) { missingReferences(t, ctx, s, base) })
		t.Run("invalid tags", func(t *testing.T) { invalidTags(t, s, base) })
	})

	if after := snapshot(t, ctx, s); !after.equal(before) {
		t.Errorf("registry changed:\nbefore %v\nafter  %v", before, after)
	}
	if left := uploadFiles(t, s.dataDir); len(left) > 0 {
		t.Errorf("upload files left behind: %v", left)
	}
}

// manifestBody returns base's manifest and media type.
func manifestBody(t testing.TB, img v1.Image) ([]byte, string) {
	t.Helper()
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	mt, _ := img.MediaType()
	return raw, string(mt)
}

func oversizedManifest(t *testing.T, s *server) {
	body := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",` +
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:` + strings.Repeat("0", 64) +
		`","size":2},"layers":[],"annotations":{"pad":"` + strings.Repeat("x", 4<<20) + `"}}`)
	hdr := map[string]string{"Content-Type": "application/vnd.oci.image.manifest.v1+json"}
	for _, ref := range []string{"big", "v1"} {
		r := s.do(t, http.MethodPut, "/v2/bad/base/manifests/"+ref, bytes.NewReader(body), hdr)
		wantError(t, "oversized manifest with Content-Length to "+ref, r, http.StatusBadRequest, "MANIFEST_INVALID")
		// Without a length the server must stop reading at the limit too.
		r = s.do(t, http.MethodPut, "/v2/bad/base/manifests/"+ref, struct{ io.Reader }{bytes.NewReader(body)}, hdr)
		wantError(t, "oversized chunked manifest to "+ref, r, http.StatusBadRequest, "MANIFEST_INVALID")
	}
}

func malformedManifests(t *testing.T, s *server, base v1.Image) {
	raw, mt := manifestBody(t, base)
	bodies := map[string]string{
		"truncated":        string(raw[:len(raw)/2]),
		"not json":         "this is not a manifest",
		"empty":            "",
		"array":            "[]",
		"schemaVersion 3":  strings.Replace(string(raw), `"schemaVersion":2`, `"schemaVersion":3`, 1),
		"trailing garbage": string(raw) + "}",
	}
	for what, body := range bodies {
		for _, ref := range []string{"broken", "v1"} {
			r := s.do(t, http.MethodPut, "/v2/bad/base/manifests/"+ref, strings.NewReader(body), map[string]string{"Content-Type": mt})
			wantError(t, what+" manifest to "+ref, r, http.StatusBadRequest, "MANIFEST_INVALID")
		}
	}
}

func digestMismatch(t *testing.T, s *server, base v1.Image) {
	data, other := []byte("the bytes actually sent"), []byte("the bytes the digest claims")
	claimed, actual := sha256Digest(other), sha256Digest(data)

	r := s.do(t, http.MethodPost, "/v2/bad/base/blobs/uploads/?digest="+claimed, bytes.NewReader(data), nil)
	wantError(t, "monolithic upload", r, http.StatusBadRequest, "DIGEST_INVALID")

	loc := startUpload(t, s, "bad/base")
	if r := patchChunk(t, s, loc, 0, data); r.Status != http.StatusAccepted {
		t.Fatalf("PATCH: status %d: %s", r.Status, r.Body)
	}
	r = s.do(t, http.MethodPut, location(t, rawResponse{Header: http.Header{"Location": {loc}}}, "digest="+claimed), nil, nil)
	wantError(t, "complete a chunked upload", r, http.StatusBadRequest, "DIGEST_INVALID")
	r = s.do(t, http.MethodGet, loc, nil, nil)
	wantError(t, "the upload after its digest failed", r, http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")

	loc = startUpload(t, s, "bad/base")
	r = s.do(t, http.MethodPut, location(t, rawResponse{Header: http.Header{"Location": {loc}}}, "digest="+claimed),
		bytes.NewReader(data), map[string]string{"Content-Type": "application/octet-stream"})
	wantError(t, "complete with a final chunk", r, http.StatusBadRequest, "DIGEST_INVALID")

	loc = startUpload(t, s, "bad/base")
	r = s.do(t, http.MethodPut, loc, bytes.NewReader(data), map[string]string{"Content-Type": "application/octet-stream"})
	wantError(t, "complete without a digest", r, http.StatusBadRequest, "DIGEST_INVALID")
	if r := s.do(t, http.MethodDelete, loc, nil, nil); r.Status != http.StatusNoContent {
		t.Errorf("cancel upload: status %d", r.Status)
	}

	raw, mt := manifestBody(t, base) // every blob is there; only the digest is wrong
	r = s.do(t, http.MethodPut, "/v2/bad/base/manifests/"+sha256Digest(append(raw, ' ')), bytes.NewReader(raw), map[string]string{"Content-Type": mt})
	wantError(t, "manifest PUT under another digest", r, http.StatusBadRequest, "DIGEST_INVALID")

	for _, bad := range []string{"sha256:zz", "md5:d41d8cd98f00b204e9800998ecf8427e", "sha256:" + strings.Repeat("A", 64), "nodigest"} {
		r := s.do(t, http.MethodPost, "/v2/bad/base/blobs/uploads/?digest="+url.QueryEscape(bad), bytes.NewReader(data), nil)
		wantError(t, "upload with digest "+bad, r, http.StatusBadRequest, "DIGEST_INVALID")
	}

	for _, bad := range []string{"sha256:zz", "sha256:" + strings.Repeat("0", 63), "md5:d41d8cd98f00b204e9800998ecf8427e"} {
		r := s.do(t, http.MethodGet, "/v2/bad/base/blobs/"+bad, nil, nil)
		wantError(t, "GET blob "+bad, r, http.StatusBadRequest, "DIGEST_INVALID")
		if r := s.do(t, http.MethodGet, "/v2/bad/base/manifests/"+bad, nil, nil); r.Status != http.StatusBadRequest {
			t.Errorf("GET manifest %s: status %d, want 400", bad, r.Status)
		}
	}
	// Upload ids are the server's; made-up ones name nothing.
	for _, id := range []string{"not-a-uuid", "00000000-0000-0000-0000-000000000000", "..%2F..%2Fberth.db", "%2e%2e"} {
		r := s.do(t, http.MethodGet, "/v2/bad/base/blobs/uploads/"+id, nil, nil)
		if r.Status != http.StatusNotFound {
			t.Errorf("GET upload %s: status %d, want 404: %s", id, r.Status, r.Body)
		}
		r = s.do(t, http.MethodPut, "/v2/bad/base/blobs/uploads/"+id+"?digest="+actual, bytes.NewReader(data), nil)
		if r.Status != http.StatusNotFound {
			t.Errorf("complete upload %s: status %d, want 404: %s", id, r.Status, r.Body)
		}
	}

	for _, d := range []string{claimed, actual} {
		r := s.do(t, http.MethodGet, "/v2/bad/base/blobs/"+d, nil, nil)
		wantError(t, "GET blob "+d+" after the refused uploads", r, http.StatusNotFound, "BLOB_UNKNOWN")
		if _, err := os.Stat(blobPath(s.dataDir, d)); !os.IsNotExist(err) {
			t.Errorf("blob %s exists on disk after a refused upload (stat: %v)", d, err)
		}
	}
}

func hostileNames(t *testing.T, s *server, base v1.Image) {
	raw, mt := manifestBody(t, base)
	layers, _ := base.Layers()
	layer := mustDigest(t, layers[0]).String()
	invalid := []string{"../x", "a//b", "UPPER", "a/../../b", "x/..", "./x", "foo/", "/foo", "a%20b", "a%00b",
		"%2e%2e/x", "123456789012", "000000000000/123456789012/x", "-x", "x_", strings.Repeat("a", 257)}
	requests := []struct {
		method, suffix string
		body           []byte
	}{
		{http.MethodGet, "/tags/list", nil},
		{http.MethodGet, "/manifests/v1", nil},
		{http.MethodPut, "/manifests/v1", raw},
		{http.MethodHead, "/blobs/" + layer, nil},
		{http.MethodPost, "/blobs/uploads/", nil},
		{http.MethodPost, "/blobs/uploads/?mount=" + layer + "&from=bad/base", nil},
		{http.MethodGet, "/referrers/" + mustDigest(t, base).String(), nil},
	}
	for _, n := range invalid {
		for _, rq := range requests {
			what := rq.method + " /v2/" + n + rq.suffix
			r := s.do(t, rq.method, "/v2/"+n+rq.suffix, bytes.NewReader(rq.body), map[string]string{"Content-Type": mt})
			if rq.method == http.MethodHead {
				if r.Status != http.StatusBadRequest {
					t.Errorf("%s: status %d, want 400", what, r.Status)
				}
				continue
			}
			wantError(t, what, r, http.StatusBadRequest, "NAME_INVALID")
		}
	}

	// Valid names that merely do not exist are unknown, not invalid.
	for _, n := range []string{"123456789012x/foo", "1234567890123/foo", "bad/base/deeper"} {
		r := s.do(t, http.MethodGet, "/v2/"+n+"/tags/list", nil, nil)
		wantError(t, "GET tags of "+n, r, http.StatusNotFound, "NAME_UNKNOWN")
	}
	// Another account's registry: not ours to read or to create in.
	for _, rq := range requests {
		r := s.do(t, rq.method, "/v2/123456789012/bad/base"+rq.suffix, bytes.NewReader(rq.body), map[string]string{"Content-Type": mt})
		if r.Status != http.StatusForbidden && r.Status != http.StatusNotFound {
			t.Errorf("%s /v2/123456789012/bad/base%s: status %d, want 403 or 404: %.200s", rq.method, rq.suffix, r.Status, r.Body)
		}
	}
}

func badPagination(t *testing.T, s *server) {
	for _, path := range []string{"/v2/bad/base/tags/list", "/v2/_catalog"} {
		for _, n := range []string{"100000", "1001", "-1", "abc", "1e3", "99999999999999999999"} {
			r := s.do(t, http.MethodGet, path+"?n="+n, nil, nil)
			wantError(t, path+"?n="+n, r, http.StatusBadRequest, "PAGINATION_NUMBER_INVALID")
		}
		if r := s.do(t, http.MethodGet, path+"?n=1000", nil, nil); r.Status != http.StatusOK {
			t.Errorf("%s?n=1000: status %d, want 200", path, r.Status)
		}
	}
}

func outOfOrderChunks(t *testing.T, s *server) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 4) // 64 bytes
	loc := startUpload(t, s, "bad/base")
	r := patchChunk(t, s, loc, 0, data[:20])
	if r.Status != http.StatusAccepted || r.Header.Get("Range") != "0-19" {
		t.Fatalf("first chunk: status %d, Range %q", r.Status, r.Header.Get("Range"))
	}
	for _, c := range []struct {
		what       string
		start, end int
	}{{"a gap", 40, 64}, {"an overlap", 10, 30}, {"a replay", 0, 20}, {"one byte ahead", 21, 30}} {
		r := patchChunk(t, s, loc, c.start, data[c.start:c.end])
		if r.Status != http.StatusRequestedRangeNotSatisfiable {
			t.Errorf("chunk with %s: status %d, want 416: %s", c.what, r.Status, r.Body)
		}
		if got := r.Header.Get("Range"); got != "0-19" {
			t.Errorf("chunk with %s: Range %q, want 0-19", c.what, got)
		}
	}
	if r := s.do(t, http.MethodGet, loc, nil, nil); r.Status != http.StatusNoContent || r.Header.Get("Range") != "0-19" {
		t.Errorf("upload status after refused chunks: %d, Range %q; want 204, 0-19", r.Status, r.Header.Get("Range"))
	}
	if r := patchChunk(t, s, loc, 20, data[20:40]); r.Status != http.StatusAccepted || r.Header.Get("Range") != "0-39" {
		t.Fatalf("next chunk: status %d, Range %q", r.Status, r.Header.Get("Range"))
	}
	r = s.do(t, http.MethodPut, location(t, rawResponse{Header: http.Header{"Location": {loc}}}, "digest="+sha256Digest(data)),
		bytes.NewReader(data[40:]), map[string]string{"Content-Type": "application/octet-stream", "Content-Range": "40-63"})
	if r.Status != http.StatusCreated {
		t.Fatalf("complete: status %d: %s", r.Status, r.Body)
	}
	if got := s.do(t, http.MethodGet, "/v2/bad/base/blobs/"+sha256Digest(data), nil, nil); !bytes.Equal(got.Body, data) {
		t.Errorf("blob after the refused chunks: %q, want %q", got.Body, data)
	}
}

func missingReferences(t *testing.T, ctx context.Context, s *server, base v1.Image) {
	// Nothing of this image was pushed.
	raw, mt := manifestBody(t, randomImage(t, 128, 2))
	r := s.do(t, http.MethodPut, "/v2/bad/base/manifests/ghost", bytes.NewReader(raw), map[string]string{"Content-Type": mt})
	wantError(t, "manifest of unpushed blobs", r, http.StatusBadRequest, "MANIFEST_BLOB_UNKNOWN")

	// The config is there but one layer is not.
	img := randomImage(t, 128, 1)
	cfg, _ := img.RawConfigFile()
	if err := remote.WriteLayer(s.repo(t, "bad/base"), static.NewLayer(cfg, types.DockerConfigJSON), remoteOpts(ctx)...); err != nil {
		t.Fatal(err)
	}
	raw, mt = manifestBody(t, img)
	r = s.do(t, http.MethodPut, "/v2/bad/base/manifests/v1", bytes.NewReader(raw), map[string]string{"Content-Type": mt})
	wantError(t, "manifest with a missing layer", r, http.StatusBadRequest, "MANIFEST_BLOB_UNKNOWN")

	// An index of a manifest the repository does not hold.
	baseRaw, baseMT := manifestBody(t, base)
	idx := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"manifests":[{"mediaType":%q,"digest":%q,"size":%d},{"mediaType":%q,"digest":%q,"size":%d}]}`,
		types.OCIImageIndex, baseMT, mustDigest(t, base), len(baseRaw), mt, mustDigest(t, img), len(raw))
	r = s.do(t, http.MethodPut, "/v2/bad/base/manifests/ghost-index", strings.NewReader(idx), map[string]string{"Content-Type": string(types.OCIImageIndex)})
	wantError(t, "index of a missing manifest", r, http.StatusBadRequest, "MANIFEST_BLOB_UNKNOWN")
}

func invalidTags(t *testing.T, s *server, base v1.Image) {
	raw, mt := manifestBody(t, base)
	for _, tag := range []string{"-dash", ".dot", strings.Repeat("t", 129), "a%2Fb", "t%20t"} {
		r := s.do(t, http.MethodPut, "/v2/bad/base/manifests/"+tag, bytes.NewReader(raw), map[string]string{"Content-Type": mt})
		if r.Status != http.StatusBadRequest && r.Status != http.StatusNotFound {
			t.Errorf("PUT manifest with tag %q: status %d, want 400 TAG_INVALID: %s", tag, r.Status, r.Body)
		}
	}
	r := s.do(t, http.MethodPut, "/v2/bad/base/manifests/-dash", bytes.NewReader(raw), map[string]string{"Content-Type": mt})
	wantError(t, "tag -dash", r, http.StatusBadRequest, "TAG_INVALID")
	r = s.do(t, http.MethodPut, "/v2/bad/base/manifests/v3?tag=-dash", bytes.NewReader(raw), map[string]string{"Content-Type": mt})
	wantError(t, "extra tag -dash", r, http.StatusBadRequest, "TAG_INVALID")
}

// TestManifestSizeBoundary: a manifest of exactly 4 MiB is accepted and
// served back byte for byte; one byte more is refused.
func TestManifestSizeBoundary(t *testing.T) {
	t.Parallel()
	s := startBerth(t, withCreateOnPush())
	ctx := testContext(t, time.Minute)
	repo := s.repo(t, "limits/app")
	img := ociImage(t, 256, 1)
	if err := remote.Write(repo.Tag("small"), img, remoteOpts(ctx)...); err != nil {
		t.Fatal(err)
	}
	const limit = 4 << 20
	for _, tc := range []struct {
		size   int
		status int
	}{{limit, http.StatusCreated}, {limit + 1, http.StatusBadRequest}} {
		body := paddedManifest(t, img, tc.size)
		r := s.do(t, http.MethodPut, fmt.Sprintf("/v2/limits/app/manifests/size-%d", tc.size), bytes.NewReader(body),
			map[string]string{"Content-Type": string(types.OCIManifestSchema1)})
		if r.Status != tc.status {
			t.Fatalf("manifest of %d bytes: status %d, want %d: %.300s", tc.size, r.Status, tc.status, r.Body)
		}
		if tc.status != http.StatusCreated {
			wantError(t, "manifest over the limit", r, http.StatusBadRequest, "MANIFEST_INVALID")
			continue
		}
		got, err := remote.Get(repo.Tag(fmt.Sprintf("size-%d", tc.size)), remoteOpts(ctx)...)
		if err != nil {
			t.Fatalf("pull the %d-byte manifest: %v", tc.size, err)
		}
		if !bytes.Equal(got.Manifest, body) || got.Digest.String() != sha256Digest(body) {
			t.Errorf("pulled %d-byte manifest: %d bytes, digest %s; want the pushed bytes", tc.size, len(got.Manifest), got.Digest)
		}
	}
}

// paddedManifest is img's manifest with an annotation padding it to size bytes.
func paddedManifest(t testing.TB, img v1.Image, size int) []byte {
	t.Helper()
	raw, _ := img.RawManifest()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	m["annotations"] = map[string]string{"pad": ""}
	b, _ := json.Marshal(m)
	m["annotations"] = map[string]string{"pad": strings.Repeat("p", size-len(b))}
	b, _ = json.Marshal(m)
	if len(b) != size {
		t.Fatalf("padded manifest is %d bytes, want %d", len(b), size)
	}
	return b
}

// TestRejectedPushCreatesNoRepository: under --create-on-push, a push that
// is refused (a malformed manifest, a manifest whose blobs are missing, a
// monolithic upload whose digest does not match) creates no repository.
func TestRejectedPushCreatesNoRepository(t *testing.T) {
	t.Parallel()
	s := startBerth(t, withCreateOnPush())
	ctx := testContext(t, time.Minute)
	raw, mt := manifestBody(t, randomImage(t, 64, 1))
	data := []byte("bytes")
	requests := []struct {
		what, method, path string
		body               []byte
		code               string
	}{
		{"malformed manifest", http.MethodPut, "/v2/new/malformed/manifests/v1", []byte("{"), "MANIFEST_INVALID"},
		{"manifest of missing blobs", http.MethodPut, "/v2/new/blobless/manifests/v1", raw, "MANIFEST_BLOB_UNKNOWN"},
		{"digest mismatch", http.MethodPost, "/v2/new/mismatch/blobs/uploads/?digest=" + sha256Digest([]byte("other")), data, "DIGEST_INVALID"},
	}
	for _, rq := range requests {
		r := s.do(t, rq.method, rq.path, bytes.NewReader(rq.body), map[string]string{"Content-Type": mt})
		wantError(t, rq.what, r, http.StatusBadRequest, rq.code)
	}
	if repos, err := remote.Catalog(ctx, s.registry(t), remoteOpts(ctx)...); err != nil || len(repos) != 0 {
		t.Errorf("catalog after refused pushes = %v, %v; want no repositories", repos, err)
	}
}
