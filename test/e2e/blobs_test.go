package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func TestBlobRange(t *testing.T) {
	t.Parallel()
	s := startBerth(t, withCreateOnPush())
	ctx := testContext(t, time.Minute)
	layer, err := random.Layer(20000, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteLayer(s.repo(t, "blobs/range"), layer, remoteOpts(ctx)...); err != nil {
		t.Fatal(err)
	}
	data := readCompressed(t, layer)
	n := len(data)
	path := "/v2/blobs/range/blobs/" + mustDigest(t, layer).String()

	tests := []struct {
		rng          string
		status       int
		body         []byte
		contentRange string
	}{
		{"", http.StatusOK, data, ""},
		{"bytes=0-9", http.StatusPartialContent, data[:10], fmt.Sprintf("bytes 0-9/%d", n)},
		{"bytes=100-", http.StatusPartialContent, data[100:], fmt.Sprintf("bytes 100-%d/%d", n-1, n)},
		{"bytes=-50", http.StatusPartialContent, data[n-50:], fmt.Sprintf("bytes %d-%d/%d", n-50, n-1, n)},
		{fmt.Sprintf("bytes=%d-%d", n-1, n+100), http.StatusPartialContent, data[n-1:], fmt.Sprintf("bytes %d-%d/%d", n-1, n-1, n)},
		{fmt.Sprintf("bytes=%d-", n), http.StatusRequestedRangeNotSatisfiable, nil, fmt.Sprintf("bytes */%d", n)},
	}
	for _, tc := range tests {
		t.Run("range="+tc.rng, func(t *testing.T) {
			t.Parallel()
			h := map[string]string{}
			if tc.rng != "" {
				h["Range"] = tc.rng
			}
			r := s.do(t, http.MethodGet, path, nil, h)
			if r.Status != tc.status {
				t.Fatalf("status %d, want %d: %.200s", r.Status, tc.status, r.Body)
			}
			if tc.body != nil && !bytes.Equal(r.Body, tc.body) {
				t.Errorf("body: %d bytes, want %d bytes of the blob", len(r.Body), len(tc.body))
			}
			if got := r.Header.Get("Content-Range"); got != tc.contentRange {
				t.Errorf("Content-Range %q, want %q", got, tc.contentRange)
			}
		})
	}

	t.Run("head", func(t *testing.T) {
		t.Parallel()
		r := s.do(t, http.MethodHead, path, nil, nil)
		if r.Status != http.StatusOK || r.Header.Get("Content-Length") != fmt.Sprint(n) ||
			r.Header.Get("Docker-Content-Digest") != mustDigest(t, layer).String() || len(r.Body) != 0 {
			t.Errorf("HEAD: status %d, headers %v, %d body bytes", r.Status, r.Header, len(r.Body))
		}
	})
	t.Run("if-none-match", func(t *testing.T) {
		t.Parallel()
		r := s.do(t, http.MethodGet, path, nil, map[string]string{"If-None-Match": `"` + mustDigest(t, layer).String() + `"`})
		if r.Status != http.StatusNotModified {
			t.Errorf("GET with a matching If-None-Match: status %d, want 304", r.Status)
		}
	})
}

// requestLog records the requests a client sends and the answers.
type requestLog struct {
	inner http.RoundTripper
	mu    sync.Mutex
	seen  []seenRequest
}

type seenRequest struct {
	method string
	url    *url.URL
	status int
}

func (r seenRequest) String() string {
	return fmt.Sprintf("%s %s -> %d", r.method, r.url.RequestURI(), r.status)
}

func (l *requestLog) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := l.inner.RoundTrip(req)
	if err == nil {
		l.mu.Lock()
		l.seen = append(l.seen, seenRequest{req.Method, req.URL, resp.StatusCode})
		l.mu.Unlock()
	}
	return resp, err
}

// find returns the first request matching f.
func (l *requestLog) find(f func(seenRequest) bool) (seenRequest, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, r := range l.seen {
		if f(r) {
			return r, true
		}
	}
	return seenRequest{}, false
}

func (l *requestLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b strings.Builder
	for _, r := range l.seen {
		b.WriteString(r.String() + "\n")
	}
	return b.String()
}

func TestCrossRepoMount(t *testing.T) {
	t.Parallel()
	s := startBerth(t, withCreateOnPush())
	ctx := testContext(t, time.Minute)
	src, dst := s.repo(t, "mount/src"), s.repo(t, "mount/dst")
	base := randomImage(t, 3000, 3)
	if err := remote.Write(src.Tag("v1"), base, remoteOpts(ctx)...); err != nil {
		t.Fatal(err)
	}
	// Layers pulled from src are mountable: pushing them to dst makes
	// go-containerregistry ask for a mount from src instead of uploading.
	pulled, err := remote.Image(src.Tag("v1"), remoteOpts(ctx)...)
	if err != nil {
		t.Fatal(err)
	}
	extra, err := random.Layer(500, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(pulled, extra)
	if err != nil {
		t.Fatal(err)
	}
	log := &requestLog{inner: remote.DefaultTransport}
	if err := remote.Write(dst.Tag("v1"), img, remoteOpts(ctx, remote.WithTransport(log))...); err != nil {
		t.Fatalf("push to dst: %v", err)
	}
	baseLayers, _ := base.Layers()
	for _, l := range baseLayers {
		d := mustDigest(t, l).String()
		mount, ok := log.find(func(r seenRequest) bool {
			return r.method == http.MethodPost && r.url.Path == "/v2/mount/dst/blobs/uploads/" && r.url.Query().Get("mount") == d
		})
		if !ok || mount.status != http.StatusCreated || mount.url.Query().Get("from") != "mount/src" {
			t.Errorf("layer %s: want a mount from mount/src answered 201; the push sent:\n%s", d, log)
		}
		if r, ok := log.find(func(r seenRequest) bool { return r.method == http.MethodPut && r.url.Query().Get("digest") == d }); ok {
			t.Errorf("layer %s was uploaded although it was mounted: %s", d, r)
		}
	}
	verifyImage(t, ctx, dst.Tag("v1"), img)
	for _, l := range baseLayers {
		got, err := remote.Layer(dst.Digest(mustDigest(t, l).String()), remoteOpts(ctx)...)
		if err != nil {
			t.Fatalf("mounted layer in dst: %v", err)
		}
		if !bytes.Equal(readCompressed(t, got), readCompressed(t, l)) {
			t.Errorf("mounted layer %s: bytes differ", mustDigest(t, l))
		}
	}
	checkMountFallbacks(t, s, baseLayers[0], extra)
}

// checkMountFallbacks: a mount the registry cannot serve opens an ordinary
// upload session (202) instead of failing.
func checkMountFallbacks(t *testing.T, s *server, inSrc, onlyInDst v1.Layer) {
	t.Helper()
	cases := []struct {
		name, query string
		status      int
	}{
		{"blob missing from source", "mount=" + mustDigest(t, onlyInDst).String() + "&from=mount/src", http.StatusAccepted},
		{"source repository missing", "mount=" + mustDigest(t, inSrc).String() + "&from=mount/nowhere", http.StatusAccepted},
		{"source in another account", "mount=" + mustDigest(t, inSrc).String() + "&from=123456789012/mount/src", http.StatusAccepted},
		{"source name invalid", "mount=" + mustDigest(t, inSrc).String() + "&from=../src", http.StatusAccepted},
		{"no source: any repository of the account", "mount=" + mustDigest(t, inSrc).String(), http.StatusCreated},
	}
	for _, tc := range cases {
		r := s.do(t, http.MethodPost, "/v2/mount/third/blobs/uploads/?"+tc.query, nil, nil)
		if r.Status != tc.status {
			t.Errorf("%s: status %d, want %d: %s", tc.name, r.Status, tc.status, r.Body)
		}
		if loc := r.Header.Get("Location"); r.Status == http.StatusAccepted && loc != "" {
			// Leave no session behind.
			if c := s.do(t, http.MethodDelete, loc, nil, nil); c.Status != http.StatusNoContent {
				t.Errorf("%s: cancel the fallback upload: status %d", tc.name, c.Status)
			}
		}
	}
}

// TestRepositoryIsolation: what one repository holds is not reachable
// through another's name, blobs, manifests and upload sessions alike.
func TestRepositoryIsolation(t *testing.T) {
	t.Parallel()
	s := startBerth(t, withCreateOnPush())
	ctx := testContext(t, time.Minute)
	a, b := s.repo(t, "iso/a"), s.repo(t, "iso/b")
	imgA := randomImage(t, 700, 2)
	if err := remote.Write(a.Tag("v1"), imgA, remoteOpts(ctx)...); err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(b.Tag("v1"), randomImage(t, 700, 1), remoteOpts(ctx)...); err != nil {
		t.Fatal(err)
	}
	layers, _ := imgA.Layers()
	cfg, _ := imgA.ConfigName()
	for _, d := range []v1.Hash{mustDigest(t, layers[0]), mustDigest(t, layers[1]), cfg} {
		r := s.do(t, http.MethodGet, "/v2/iso/b/blobs/"+d.String(), nil, nil)
		wantError(t, "GET a blob of iso/a through iso/b", r, http.StatusNotFound, "BLOB_UNKNOWN")
	}
	_, err := remote.Get(b.Digest(mustDigest(t, imgA).String()), remoteOpts(ctx)...)
	wantTransportError(t, "GET iso/a's manifest through iso/b", err, http.StatusNotFound, "MANIFEST_UNKNOWN")

	loc := startUpload(t, s, "iso/a")
	other := strings.Replace(loc, "/v2/iso/a/", "/v2/iso/b/", 1)
	chunk := []byte("not for iso/b")
	wantError(t, "GET iso/a's upload through iso/b", s.do(t, http.MethodGet, other, nil, nil), http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")
	wantError(t, "PATCH iso/a's upload through iso/b", patchChunk(t, s, other, 0, chunk), http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")
	wantError(t, "complete iso/a's upload through iso/b",
		s.do(t, http.MethodPut, other+"?digest="+sha256Digest(nil), nil, nil), http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")
	wantError(t, "cancel iso/a's upload through iso/b", s.do(t, http.MethodDelete, other, nil, nil), http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")
	if r := patchChunk(t, s, loc, 0, chunk); r.Status != http.StatusAccepted || r.Header.Get("Range") != fmt.Sprintf("0-%d", len(chunk)-1) {
		t.Errorf("iso/a's own upload after the attempts through iso/b: status %d, Range %q", r.Status, r.Header.Get("Range"))
	}
	if r := s.do(t, http.MethodDelete, loc, nil, nil); r.Status != http.StatusNoContent {
		t.Errorf("cancel: status %d", r.Status)
	}
}
