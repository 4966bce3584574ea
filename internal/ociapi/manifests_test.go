package ociapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/registry"
	rt "github.com/berth-registry/berth/internal/registry/registrytest"
)

var image = rt.Image{Config: []byte(`{"architecture":"arm64"}`), Layers: [][]byte{[]byte("first layer"), []byte("second")}}

const ociManifest = "application/vnd.oci.image.manifest.v1+json"

func TestPutAndGetManifest(t *testing.T) {
	t.Parallel()
	body := image.JSON()
	d := digest.FromBytes(body)
	ct := map[string]string{"Content-Type": ociManifest}
	subjectOf := func(s *server) []byte {
		sb, _ := s.pushImage(t, "app", "base", rt.Image{Config: []byte(`{"base":true}`)})
		subject := rt.Descriptor(ociManifest, sb)
		return rt.Image{Config: image.Config, Layers: image.Layers, ArtifactType: "application/x-sig", Subject: &subject}.JSON()
	}
	tests := []struct {
		name    string
		repo    string // default app
		ref     string
		query   string
		body    func(s *server) []byte
		header  map[string]string
		status  int
		code    string
		headers map[string]string
		tags    []string
	}{
		{name: "by tag", ref: "v1", status: 201, headers: map[string]string{
			"Location": "/v2/app/manifests/" + d.String(), "Docker-Content-Digest": d.String(),
			"OCI-Subject": "", "OCI-Tag": "", "Content-Length": "0"}, tags: []string{"v1"}},
		{name: "by digest", ref: d.String(), status: 201, headers: map[string]string{
			"Location": "/v2/app/manifests/" + d.String(), "Docker-Content-Digest": d.String()}},
		{name: "by digest with tags", ref: d.String(), query: "?tag=a&tag=b", status: 201, tags: []string{"a", "b"}},
		{name: "with a subject", ref: "sig", body: subjectOf, status: 201, tags: []string{"sig"}},
		{name: "without Content-Type", ref: "v1", header: map[string]string{}, status: 201, tags: []string{"v1"}},
		{name: "Content-Type disagrees", ref: "v1", header: map[string]string{"Content-Type": "application/vnd.oci.image.index.v1+json"},
			status: 400, code: "MANIFEST_INVALID"},
		{name: "digest mismatch", ref: digest.FromString("x").String(), status: 400, code: "DIGEST_INVALID"},
		{name: "invalid tag", ref: "bad!tag", status: 400, code: "TAG_INVALID"},
		{name: "invalid extra tag", ref: "v1", query: "?tag=-no", status: 400, code: "TAG_INVALID"},
		{name: "not JSON", ref: "v1", body: func(*server) []byte { return []byte("[") }, status: 400, code: "MANIFEST_INVALID"},
		{name: "empty body", ref: "v1", body: func(*server) []byte { return []byte{} }, status: 400, code: "MANIFEST_INVALID"},
		{name: "missing blob", ref: "v1", body: func(*server) []byte {
			return rt.Image{Config: image.Config, Layers: [][]byte{[]byte("never pushed")}}.JSON()
		}, status: 400, code: "MANIFEST_BLOB_UNKNOWN"},
		{name: "missing repository", repo: "nothing", ref: "v1", status: 404, code: "NAME_UNKNOWN"},
		{name: "another account", repo: "222222222222/app", ref: "v1", status: 403, code: "DENIED"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t, registry.Options{})
			s.pushBlob(t, "app", image.Config)
			for _, l := range image.Layers {
				s.pushBlob(t, "app", l)
			}
			b := body
			if tc.body != nil {
				b = tc.body(s)
			}
			h := tc.header
			if h == nil {
				h = ct
			}
			name := "app"
			if tc.repo != "" {
				name = tc.repo
			}
			resp, rb := s.do(t, req{method: http.MethodPut, path: "/v2/" + name + "/manifests/" + tc.ref + tc.query, body: b, header: h})
			if tc.code != "" {
				wantError(t, resp, rb, tc.status, tc.code)
				return
			}
			wantStatus(t, resp, rb, tc.status)
			wantHeaders(t, resp, tc.headers)
			bd := digest.FromBytes(b)
			if got := resp.Header.Get("Docker-Content-Digest"); got != bd.String() {
				t.Errorf("Docker-Content-Digest = %q, want %s", got, bd)
			}
			if tc.body != nil && bytes.Contains(b, []byte(`"subject"`)) {
				want := digest.FromBytes(rt.Image{Config: []byte(`{"base":true}`)}.JSON()).String()
				wantHeaders(t, resp, map[string]string{"OCI-Subject": want})
			}
			if strings.Contains(tc.query, "tag=") && !slices.Equal(resp.Header.Values("OCI-Tag"), tc.tags) {
				t.Errorf("OCI-Tag = %q, want %q", resp.Header.Values("OCI-Tag"), tc.tags)
			}
			for _, ref := range append([]string{bd.String()}, tc.tags...) {
				resp, got := s.do(t, req{method: http.MethodGet, path: "/v2/app/manifests/" + ref})
				wantStatus(t, resp, got, http.StatusOK)
				wantHeaders(t, resp, map[string]string{"Content-Type": ociManifest, "Docker-Content-Digest": bd.String(),
					"Content-Length": strconv.Itoa(len(b))})
				if !bytes.Equal(got, b) {
					t.Fatalf("GET %s = %q, want the pushed bytes", ref, got)
				}
			}
		})
	}
}

// TestManifestContentType: a manifest is served with exactly the media
// type it was stored as.
func TestManifestContentType(t *testing.T) {
	t.Parallel()
	s := newServer(t, registry.Options{})
	child, childD := s.pushImage(t, "app", "child", image)
	docker := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":%q,"size":%d,"digest":%q},"layers":[]}`,
		oci.MediaTypeDockerManifest, oci.MediaTypeDockerConfig, len(image.Config), digest.FromBytes(image.Config)))
	tests := []struct {
		tag, contentType string
		body             []byte
	}{
		{"docker", oci.MediaTypeDockerManifest, docker},
		{"index", ocispec.MediaTypeImageIndex, rt.Index(child)},
		{"oci", ociManifest, image.JSON()},
	}
	for _, tc := range tests {
		resp, b := s.do(t, req{method: http.MethodPut, path: "/v2/app/manifests/" + tc.tag, body: tc.body,
			header: map[string]string{"Content-Type": tc.contentType}})
		wantStatus(t, resp, b, http.StatusCreated)
		for _, m := range []string{http.MethodGet, http.MethodHead} {
			resp, _ := s.do(t, req{method: m, path: "/v2/app/manifests/" + tc.tag})
			wantHeaders(t, resp, map[string]string{"Content-Type": tc.contentType, "Content-Length": strconv.Itoa(len(tc.body))})
		}
	}
	// Deleting an index's child is refused while the index stands.
	resp, b := s.do(t, req{method: http.MethodDelete, path: "/v2/app/manifests/" + childD.String()})
	wantError(t, resp, b, http.StatusForbidden, "DENIED")
}

func TestManifestTooLarge(t *testing.T) {
	t.Parallel()
	s := newServer(t, registry.Options{})
	// Valid JSON just over the limit: only the size can be wrong.
	pad := oci.MaxManifestSize + 1 - len(`{"schemaVersion":2,"x":""}`)
	big := []byte(`{"schemaVersion":2,"x":"` + strings.Repeat("a", pad) + `"}`)
	for _, chunked := range []bool{false, true} {
		resp, body := s.do(t, req{method: http.MethodPut, path: "/v2/app/manifests/big", body: big, chunked: chunked,
			header: map[string]string{"Content-Type": ociManifest}})
		msg, _ := wantError(t, resp, body, http.StatusBadRequest, "MANIFEST_INVALID")
		if !strings.Contains(msg, strconv.Itoa(oci.MaxManifestSize)) {
			t.Errorf("chunked=%v: message %q does not give the limit", chunked, msg)
		}
	}
	resp, body := s.do(t, req{method: http.MethodGet, path: "/v2/app/manifests/big"})
	wantError(t, resp, body, http.StatusNotFound, "MANIFEST_UNKNOWN")
}

func TestDeleteManifest(t *testing.T) {
	t.Parallel()
	s := newServer(t, registry.Options{})
	_, d := s.pushImage(t, "app", "v1", image)
	s.pushImage(t, "app", "v2", image)
	steps := []struct {
		method, ref string
		as          string
		status      int
		code        string
	}{
		{http.MethodDelete, "v1", asOther, 403, "DENIED"},
		{http.MethodDelete, "v1", asDefault, 202, ""},
		{http.MethodGet, "v1", asDefault, 404, "MANIFEST_UNKNOWN"},
		{http.MethodGet, "v2", asDefault, 200, ""},
		{http.MethodDelete, "v1", asDefault, 404, "MANIFEST_UNKNOWN"},
		{http.MethodDelete, d.String(), asDefault, 202, ""},
		{http.MethodGet, "v2", asDefault, 404, "MANIFEST_UNKNOWN"},
		{http.MethodGet, d.String(), asDefault, 404, "MANIFEST_UNKNOWN"},
		{http.MethodDelete, "sha256:0", asDefault, 400, "DIGEST_INVALID"},
		{http.MethodGet, "bad%20tag", asDefault, 400, "TAG_INVALID"},
	}
	for _, st := range steps {
		resp, body := s.do(t, req{method: st.method, path: "/v2/app/manifests/" + st.ref, as: st.as})
		if st.code != "" {
			wantError(t, resp, body, st.status, st.code)
			continue
		}
		wantStatus(t, resp, body, st.status)
	}
}

func TestTagsList(t *testing.T) {
	t.Parallel()
	s := newServer(t, registry.Options{})
	for _, tag := range []string{"v3", "v1", "v5", "v2", "v4"} {
		s.pushImage(t, "app", tag, image)
	}
	s.CreateRepository(t, rt.OtherAccount, "team/app")
	tests := []struct {
		path   string
		as     string
		body   string
		link   string
		status int
		code   string
	}{
		{path: "/v2/app/tags/list", body: `{"name":"app","tags":["v1","v2","v3","v4","v5"]}`},
		{path: "/v2/app/tags/list?n=2", body: `{"name":"app","tags":["v1","v2"]}`, link: `</v2/app/tags/list?last=v2&n=2>; rel="next"`},
		{path: "/v2/app/tags/list?n=2&last=v2", body: `{"name":"app","tags":["v3","v4"]}`, link: `</v2/app/tags/list?last=v4&n=2>; rel="next"`},
		{path: "/v2/app/tags/list?n=2&last=v4", body: `{"name":"app","tags":["v5"]}`},
		{path: "/v2/app/tags/list?n=5", body: `{"name":"app","tags":["v1","v2","v3","v4","v5"]}`},
		{path: "/v2/app/tags/list?n=0", body: `{"name":"app","tags":[]}`},
		{path: "/v2/app/tags/list?last=v9", body: `{"name":"app","tags":[]}`},
		{path: "/v2/222222222222/team/app/tags/list", as: asOther, body: `{"name":"222222222222/team/app","tags":[]}`},
		{path: "/v2/app/tags/list?n=1001", status: 400, code: "PAGINATION_NUMBER_INVALID"},
		{path: "/v2/app/tags/list?n=-1", status: 400, code: "PAGINATION_NUMBER_INVALID"},
		{path: "/v2/app/tags/list?n=ten", status: 400, code: "PAGINATION_NUMBER_INVALID"},
		{path: "/v2/app/tags/list?last=%FF", status: 400, code: "PAGINATION_NUMBER_INVALID"},
		{path: "/v2/missing/tags/list", status: 404, code: "NAME_UNKNOWN"},
		{path: "/v2/app/tags/list", as: asOther, status: 403, code: "DENIED"},
	}
	for _, tc := range tests {
		resp, body := s.do(t, req{method: http.MethodGet, path: tc.path, as: tc.as})
		if tc.code != "" {
			wantError(t, resp, body, tc.status, tc.code)
			continue
		}
		wantStatus(t, resp, body, http.StatusOK)
		wantHeaders(t, resp, map[string]string{"Link": tc.link, "Content-Type": "application/json",
			"Content-Length": strconv.Itoa(len(body))})
		if string(body) != tc.body {
			t.Errorf("GET %s = %s, want %s", tc.path, body, tc.body)
		}
	}
}

func TestCatalog(t *testing.T) {
	t.Parallel()
	s := newServer(t, registry.Options{})
	for _, name := range []string{"b/two", "a/one", "c"} {
		s.CreateRepository(t, rt.Account, name)
	}
	s.CreateRepository(t, rt.OtherAccount, "theirs")
	tests := []struct {
		path   string
		as     string
		host   string
		body   string
		link   string
		status int
		code   string
	}{
		{path: "/v2/_catalog", body: `{"repositories":["a/one","app","b/two","c"]}`},
		{path: "/v2/_catalog?n=2", body: `{"repositories":["a/one","app"]}`, link: `</v2/_catalog?last=app&n=2>; rel="next"`},
		{path: "/v2/_catalog?n=2&last=app", body: `{"repositories":["b/two","c"]}`},
		{path: "/v2/_catalog?n=0", body: `{"repositories":[]}`},
		{path: "/v2/_catalog", as: asOther, host: "222222222222." + registryHost, body: `{"repositories":["app","theirs"]}`},
		{path: "/v2/_catalog", as: asOther, body: `{"repositories":[]}`},
		{path: "/v2/_catalog?n=1001", status: 400, code: "PAGINATION_NUMBER_INVALID"},
		{path: "/v2/_catalog?last=a%00%C3", status: 400, code: "PAGINATION_NUMBER_INVALID"},
	}
	for _, tc := range tests {
		resp, body := s.do(t, req{method: http.MethodGet, path: tc.path, as: tc.as, host: tc.host})
		if tc.code != "" {
			wantError(t, resp, body, tc.status, tc.code)
			continue
		}
		wantStatus(t, resp, body, http.StatusOK)
		wantHeaders(t, resp, map[string]string{"Link": tc.link, "Content-Type": "application/json"})
		if string(body) != tc.body {
			t.Errorf("GET %s (host %q) = %s, want %s", tc.path, tc.host, body, tc.body)
		}
	}
}

func TestReferrers(t *testing.T) {
	t.Parallel()
	s := newServer(t, registry.Options{})
	sb, sd := s.pushImage(t, "app", "v1", image)
	subject := rt.Descriptor(ociManifest, sb)
	var sigs []string
	for i, at := range []string{"application/x-sig", "application/x-sbom", "application/x-sig"} {
		im := rt.Image{Config: []byte(fmt.Sprintf(`{"i":%d}`, i)), ArtifactType: at, Subject: &subject}
		s.pushBlob(t, "app", im.Config)
		resp, b := s.do(t, req{method: http.MethodPut, path: "/v2/app/manifests/" + digest.FromBytes(im.JSON()).String(),
			body: im.JSON(), header: map[string]string{"Content-Type": ociManifest}})
		wantStatus(t, resp, b, http.StatusCreated)
		wantHeaders(t, resp, map[string]string{"OCI-Subject": sd.String()})
		if at == "application/x-sig" {
			sigs = append(sigs, digest.FromBytes(im.JSON()).String())
		}
	}
	slices.Sort(sigs)
	tests := []struct {
		path    string
		as      string
		want    []string // digests, in order
		filter  string
		status  int
		code    string
		allKind int // len when want is nil
	}{
		{path: "/v2/app/referrers/" + sd.String(), allKind: 3},
		{path: "/v2/app/referrers/" + sd.String() + "?artifactType=application/x-sig", want: sigs, filter: "artifactType"},
		{path: "/v2/app/referrers/" + sd.String() + "?artifactType=application/none", want: []string{}, filter: "artifactType"},
		{path: "/v2/app/referrers/" + digest.FromString("unknown").String(), want: []string{}},
		{path: "/v2/nothing/referrers/" + sd.String(), want: []string{}},
		{path: "/v2/app/referrers/v1", status: 400, code: "DIGEST_INVALID"},
		{path: "/v2/app/referrers/" + sd.String(), as: asOther, status: 403, code: "DENIED"},
		{path: "/v2/Bad/referrers/" + sd.String(), status: 400, code: "NAME_INVALID"},
	}
	for _, tc := range tests {
		resp, body := s.do(t, req{method: http.MethodGet, path: tc.path, as: tc.as})
		if tc.code != "" {
			wantError(t, resp, body, tc.status, tc.code)
			continue
		}
		wantStatus(t, resp, body, http.StatusOK)
		wantHeaders(t, resp, map[string]string{"Content-Type": ocispec.MediaTypeImageIndex, "OCI-Filters-Applied": tc.filter})
		var idx struct {
			SchemaVersion int                  `json:"schemaVersion"`
			MediaType     string               `json:"mediaType"`
			Manifests     []ocispec.Descriptor `json:"manifests"`
		}
		if err := json.Unmarshal(body, &idx); err != nil || idx.SchemaVersion != 2 || idx.MediaType != ocispec.MediaTypeImageIndex || idx.Manifests == nil {
			t.Fatalf("GET %s = %s, %v", tc.path, body, err)
		}
		got := []string{}
		for _, m := range idx.Manifests {
			got = append(got, m.Digest.String())
			if m.MediaType != ociManifest || m.ArtifactType == "" || m.Size <= 0 {
				t.Errorf("descriptor %+v lacks a media type, artifact type or size", m)
			}
		}
		if (tc.want == nil && len(got) != tc.allKind) || (tc.want != nil && !slices.Equal(got, tc.want)) {
			t.Errorf("GET %s digests = %v, want %v", tc.path, got, tc.want)
		}
	}
}
