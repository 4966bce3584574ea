package ecrapi

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/registry/registrytest"
)

// TestECRDownloadURLLifetime: a GetDownloadUrlForLayer URL serves the
// layer, with ranges, until downloadTTL has passed, and not after.
func TestECRDownloadURLLifetime(t *testing.T) {
	t.Parallel()
	e := newConformanceEnv(t)
	e.call("CreateRepository", obj{"repositoryName": "dl/app"})
	layer := []byte(strings.Repeat("layer bytes ", 100))
	e.env.Push(t, registrytest.Root(registrytest.Account), registrytest.Ref(registrytest.Account, "dl/app"), "v1",
		registrytest.Image{Config: []byte(`{"os":"linux"}`), Layers: [][]byte{layer}})
	u := e.call("GetDownloadUrlForLayer", obj{"repositoryName": "dl/app", "layerDigest": digestOf(layer)}).str("downloadUrl")
	if !strings.HasPrefix(u, "https://registry.example:5000"+DownloadPath+"?") {
		t.Fatalf("downloadUrl %q is not on the registry URL", u)
	}
	get := func(method string, header map[string]string) *httptest.ResponseRecorder {
		t.Helper()
		req := httptest.NewRequest(method, u, nil)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		rec := httptest.NewRecorder()
		e.h.ServeDownload(rec, req)
		return rec
	}

	if r := get(http.MethodGet, nil); r.Code != http.StatusOK || r.Body.String() != string(layer) ||
		r.Header().Get("Docker-Content-Digest") != digestOf(layer) {
		t.Errorf("GET: %d, %d bytes, digest header %q; want 200 and the layer", r.Code, r.Body.Len(), r.Header().Get("Docker-Content-Digest"))
	}
	if r := get(http.MethodHead, nil); r.Code != http.StatusOK || r.Header().Get("Content-Length") != strconv.Itoa(len(layer)) {
		t.Errorf("HEAD: %d, Content-Length %q; want 200, %d", r.Code, r.Header().Get("Content-Length"), len(layer))
	}
	if r := get(http.MethodGet, map[string]string{"Range": "bytes=6-10"}); r.Code != http.StatusPartialContent || r.Body.String() != string(layer[6:11]) {
		t.Errorf("GET bytes=6-10: %d %q; want 206 %q", r.Code, r.Body.String(), layer[6:11])
	}
	if r := get(http.MethodPost, nil); r.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d, want 405", r.Code)
	}

	e.env.Clock.Advance(downloadTTL - time.Second)
	if r := get(http.MethodGet, nil); r.Code != http.StatusOK {
		t.Errorf("GET %s after issue: %d, want 200", downloadTTL-time.Second, r.Code)
	}
	e.env.Clock.Advance(2 * time.Second)
	if r := get(http.MethodGet, nil); r.Code != http.StatusForbidden || r.Body.Len() >= len(layer) {
		t.Errorf("GET %s after issue: %d (%d bytes), want 403", downloadTTL+time.Second, r.Code, r.Body.Len())
	}
	// A fresh URL works again.
	u = e.call("GetDownloadUrlForLayer", obj{"repositoryName": "dl/app", "layerDigest": digestOf(layer)}).str("downloadUrl")
	if r := get(http.MethodGet, nil); r.Code != http.StatusOK {
		t.Errorf("GET a fresh URL: %d, want 200", r.Code)
	}
}
