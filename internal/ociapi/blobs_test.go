package ociapi_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/registry"
	rt "github.com/berth-registry/berth/internal/registry/registrytest"
)

var uploadLocation = regexp.MustCompile(`^/v2/app/blobs/uploads/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$`)

// TestUploadProtocol walks a chunked upload and checks every header the
// protocol promises.
func TestUploadProtocol(t *testing.T) {
	t.Parallel()
	s := newServer(t, registry.Options{})
	resp, body := s.do(t, req{method: http.MethodPost, path: "/v2/app/blobs/uploads/"})
	wantStatus(t, resp, body, http.StatusAccepted)
	loc := resp.Header.Get("Location")
	m := uploadLocation.FindStringSubmatch(loc)
	if m == nil {
		t.Fatalf("Location = %q, want /v2/app/blobs/uploads/<uuid>", loc)
	}
	at := func(rng string) map[string]string {
		return map[string]string{"Location": loc, "Docker-Upload-UUID": m[1], "Range": rng}
	}
	wantHeaders(t, resp, at("0-0"))
	wantHeaders(t, resp, map[string]string{"Content-Length": "0"})

	resp, body = s.do(t, req{method: http.MethodPatch, path: loc, body: []byte("hello"),
		header: map[string]string{"Content-Range": "0-4", "Content-Type": "application/octet-stream"}})
	wantStatus(t, resp, body, http.StatusAccepted)
	wantHeaders(t, resp, at("0-4"))

	resp, body = s.do(t, req{method: http.MethodGet, path: loc})
	wantStatus(t, resp, body, http.StatusNoContent)
	wantHeaders(t, resp, at("0-4"))

	// A streamed chunk without Content-Range or Content-Length.
	resp, body = s.do(t, req{method: http.MethodPatch, path: loc, body: []byte(", world"), chunked: true})
	wantStatus(t, resp, body, http.StatusAccepted)
	wantHeaders(t, resp, at("0-11"))

	content := "hello, world!"
	d := digest.FromString(content)
	resp, body = s.do(t, req{method: http.MethodPut, path: loc + "?digest=" + d.String(), body: []byte("!"),
		header: map[string]string{"Content-Range": "12-12"}})
	wantStatus(t, resp, body, http.StatusCreated)
	wantHeaders(t, resp, map[string]string{"Location": "/v2/app/blobs/" + d.String(),
		"Docker-Content-Digest": d.String(), "Content-Length": "0"})

	resp, body = s.do(t, req{method: http.MethodGet, path: loc})
	wantError(t, resp, body, http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")

	resp, body = s.do(t, req{method: http.MethodGet, path: "/v2/app/blobs/" + d.String()})
	wantStatus(t, resp, body, http.StatusOK)
	wantHeaders(t, resp, map[string]string{"Content-Length": strconv.Itoa(len(content)),
		"Docker-Content-Digest": d.String(), "Content-Type": "application/octet-stream"})
	if string(body) != content {
		t.Fatalf("blob = %q, want %q", body, content)
	}
}

func TestUploadErrors(t *testing.T) {
	t.Parallel()
	const unknownID = "/v2/app/blobs/uploads/3fa85f64-5717-4562-b3fc-2c963f66afa6"
	tests := []struct {
		name    string
		method  string
		query   string
		body    string
		chunked bool
		header  map[string]string
		status  int
		code    string
		path    string // instead of the upload's Location
		headers map[string]string
		alive   bool // the session survives
	}{
		{name: "PATCH out of order", method: http.MethodPatch, body: "xyz", header: map[string]string{"Content-Range": "7-9"},
			status: 416, code: "RANGE_INVALID", alive: true, headers: map[string]string{"Range": "0-4"}},
		{name: "PATCH repeats a chunk", method: http.MethodPatch, body: "abcde", header: map[string]string{"Content-Range": "0-4"},
			status: 416, code: "RANGE_INVALID", alive: true, headers: map[string]string{"Range": "0-4"}},
		{name: "PATCH malformed Content-Range", method: http.MethodPatch, body: "xyz", header: map[string]string{"Content-Range": "five-seven"},
			status: 416, code: "RANGE_INVALID", alive: true},
		{name: "PATCH range disagrees with length", method: http.MethodPatch, body: "xyz", header: map[string]string{"Content-Range": "5-9"},
			status: 416, code: "RANGE_INVALID", alive: true},
		{name: "PATCH over the size limit", method: http.MethodPatch, body: strings.Repeat("x", 20),
			status: 400, code: "SIZE_INVALID", alive: true},
		{name: "PATCH streamed over the size limit", method: http.MethodPatch, body: strings.Repeat("x", 20), chunked: true,
			status: 400, code: "SIZE_INVALID", alive: true},
		{name: "PATCH unknown upload", method: http.MethodPatch, body: "x", path: unknownID,
			status: 404, code: "BLOB_UPLOAD_UNKNOWN", alive: true},
		{name: "PATCH not an upload id", method: http.MethodPatch, body: "x", path: "/v2/app/blobs/uploads/nope",
			status: 404, code: "BLOB_UPLOAD_UNKNOWN", alive: true},
		{name: "PUT without digest", method: http.MethodPut, status: 400, code: "DIGEST_INVALID", alive: true},
		{name: "PUT malformed digest", method: http.MethodPut, query: "?digest=sha256:12", status: 400, code: "DIGEST_INVALID", alive: true},
		{name: "PUT wrong digest", method: http.MethodPut, query: "?digest=" + digest.FromString("other").String(),
			status: 400, code: "DIGEST_INVALID"},
		{name: "PUT final chunk out of order", method: http.MethodPut, query: "?digest=" + digest.FromString("abcdefg").String(),
			body: "fg", header: map[string]string{"Content-Range": "6-7"}, status: 416, code: "RANGE_INVALID", alive: true},
		{name: "PUT malformed Content-Range", method: http.MethodPut, query: "?digest=" + digest.FromString("abcdefg").String(),
			body: "fg", header: map[string]string{"Content-Range": "bytes=5-6"}, status: 416, code: "RANGE_INVALID", alive: true},
		{name: "DELETE unknown upload", method: http.MethodDelete, path: unknownID, status: 404, code: "BLOB_UPLOAD_UNKNOWN", alive: true},
		{name: "GET upload as another account", method: http.MethodGet, path: "/v2/111111111111/app/blobs/uploads/@",
			status: 403, code: "DENIED", alive: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t, registry.Options{MaxBlobSize: 16})
			loc := s.startUpload(t, "app", asDefault)
			resp, body := s.do(t, req{method: http.MethodPatch, path: loc, body: []byte("abcde")})
			wantStatus(t, resp, body, http.StatusAccepted)
			path, as := loc, asDefault
			if tc.path != "" {
				path = strings.Replace(tc.path, "@", loc[strings.LastIndex(loc, "/")+1:], 1)
			}
			if tc.code == "DENIED" {
				as = asOther
			}
			var b []byte
			if tc.body != "" {
				b = []byte(tc.body)
			}
			resp, body = s.do(t, req{method: tc.method, path: path + tc.query, body: b, chunked: tc.chunked, header: tc.header, as: as})
			wantError(t, resp, body, tc.status, tc.code)
			wantHeaders(t, resp, tc.headers)
			if tc.headers["Range"] != "" {
				wantHeaders(t, resp, map[string]string{"Location": loc})
			}
			resp, body = s.do(t, req{method: http.MethodGet, path: loc})
			if !tc.alive {
				wantError(t, resp, body, http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")
				if f := s.UploadFiles(t); len(f) != 0 {
					t.Fatalf("upload bytes left: %v", f)
				}
				if n := s.StoredBlobs(t); n != 0 {
					t.Fatalf("%d blobs stored", n)
				}
				return
			}
			wantStatus(t, resp, body, http.StatusNoContent)
			wantHeaders(t, resp, map[string]string{"Range": "0-4"})
		})
	}
}

func TestCancelUpload(t *testing.T) {
	t.Parallel()
	s := newServer(t, registry.Options{})
	loc := s.startUpload(t, "app", asDefault)
	resp, body := s.do(t, req{method: http.MethodDelete, path: loc})
	wantStatus(t, resp, body, http.StatusNoContent)
	resp, body = s.do(t, req{method: http.MethodGet, path: loc})
	wantError(t, resp, body, http.StatusNotFound, "BLOB_UPLOAD_UNKNOWN")
}

func TestMonolithicPush(t *testing.T) {
	t.Parallel()
	s := newServer(t, registry.Options{})
	content := []byte("one request")
	d := digest.FromBytes(content)
	tests := []struct {
		name    string
		digest  string
		chunked bool
		status  int
		code    string
	}{
		{"with length", d.String(), false, http.StatusCreated, ""},
		{"streamed", d.String(), true, http.StatusCreated, ""},
		{"wrong digest", digest.FromString("nope").String(), false, http.StatusBadRequest, "DIGEST_INVALID"},
		{"malformed digest", "sha256:xyz", false, http.StatusBadRequest, "DIGEST_INVALID"},
	}
	for _, tc := range tests {
		resp, body := s.do(t, req{method: http.MethodPost, path: "/v2/app/blobs/uploads/?digest=" + tc.digest, body: content, chunked: tc.chunked})
		if tc.code != "" {
			wantError(t, resp, body, tc.status, tc.code)
			continue
		}
		wantStatus(t, resp, body, tc.status)
		wantHeaders(t, resp, map[string]string{"Location": "/v2/app/blobs/" + d.String(),
			"Docker-Content-Digest": d.String(), "Content-Length": "0", "Docker-Upload-UUID": ""})
	}
	if n := s.StoredBlobs(t); n != 1 {
		t.Fatalf("%d blobs stored, want 1", n)
	}
	if f := s.UploadFiles(t); len(f) != 0 {
		t.Fatalf("upload bytes left: %v", f)
	}
}

func TestMount(t *testing.T) {
	t.Parallel()
	s := newServer(t, registry.Options{})
	content := []byte("mountable")
	d := s.pushBlob(t, "app", content)
	s.CreateRepository(t, rt.Account, "dst")
	s.CreateRepository(t, rt.OtherAccount, "dst")
	s.CreateRepository(t, rt.OtherAccount, "src")
	s.PutBlob(t, rt.Root(rt.OtherAccount), rt.Ref(rt.OtherAccount, "src"), content)
	tests := []struct {
		name    string
		path    string
		query   string
		as      string
		mounted bool
		code    string
	}{
		{name: "from a repository holding it", path: "/v2/dst", query: "from=app", mounted: true},
		{name: "without from", path: "/v2/dst", mounted: true},
		{name: "from an account-prefixed name", path: "/v2/dst", query: "from=111111111111/app", mounted: true},
		{name: "from another account", path: "/v2/dst", query: "from=222222222222/src"},
		{name: "from a repository without it", path: "/v2/dst", query: "from=dst"},
		{name: "from a hostile name", path: "/v2/dst", query: "from=../app"},
		{name: "into another account's repository", path: "/v2/222222222222/dst", query: "from=222222222222/src", code: "DENIED"},
		{name: "into another account, as it", path: "/v2/222222222222/dst", query: "from=src", as: asOther, mounted: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := "?mount=" + d.String()
			if tc.query != "" {
				q += "&" + tc.query
			}
			resp, body := s.do(t, req{method: http.MethodPost, path: tc.path + "/blobs/uploads/" + q, as: tc.as})
			switch {
			case tc.code != "":
				wantError(t, resp, body, http.StatusForbidden, tc.code)
			case tc.mounted:
				wantStatus(t, resp, body, http.StatusCreated)
				wantHeaders(t, resp, map[string]string{"Location": tc.path + "/blobs/" + d.String(), "Docker-Content-Digest": d.String()})
			default: // not mountable: a session to upload into instead
				wantStatus(t, resp, body, http.StatusAccepted)
				if loc := resp.Header.Get("Location"); !strings.HasPrefix(loc, tc.path+"/blobs/uploads/") || resp.Header.Get("Docker-Upload-UUID") == "" {
					t.Fatalf("Location = %q, Docker-Upload-UUID = %q", loc, resp.Header.Get("Docker-Upload-UUID"))
				}
			}
			resp, body = s.do(t, req{method: http.MethodHead, path: tc.path + "/blobs/" + d.String(), as: tc.as})
			if got := resp.StatusCode == http.StatusOK; got != tc.mounted {
				t.Fatalf("blob in %s after mount: status %d, want mounted = %v", tc.path, resp.StatusCode, tc.mounted)
			}
			if tc.mounted {
				// Undo, so the next case starts without the blob.
				resp, body = s.do(t, req{method: http.MethodDelete, path: tc.path + "/blobs/" + d.String(), as: tc.as})
				wantStatus(t, resp, body, http.StatusAccepted)
			}
		})
	}
	resp, body := s.do(t, req{method: http.MethodPost, path: "/v2/dst/blobs/uploads/?mount=sha256:bad&from=app"})
	wantError(t, resp, body, http.StatusBadRequest, "DIGEST_INVALID")
}

func TestBlobReads(t *testing.T) {
	t.Parallel()
	s := newServer(t, registry.Options{})
	content := []byte("0123456789")
	d := s.pushBlob(t, "app", content)
	path := "/v2/app/blobs/" + d.String()
	missing := digest.FromString("missing").String()
	tests := []struct {
		name    string
		method  string
		path    string
		rng     string
		status  int
		code    string
		body    string
		headers map[string]string
	}{
		{name: "GET", method: http.MethodGet, path: path, status: 200, body: "0123456789",
			headers: map[string]string{"Content-Length": "10", "Docker-Content-Digest": d.String(), "Content-Range": ""}},
		{name: "HEAD", method: http.MethodHead, path: path, status: 200,
			headers: map[string]string{"Content-Length": "10", "Docker-Content-Digest": d.String(), "Content-Type": "application/octet-stream"}},
		{name: "GET range", method: http.MethodGet, path: path, rng: "bytes=2-5", status: 206, body: "2345",
			headers: map[string]string{"Content-Range": "bytes 2-5/10", "Content-Length": "4", "Docker-Content-Digest": d.String()}},
		{name: "GET open range", method: http.MethodGet, path: path, rng: "bytes=7-", status: 206, body: "789",
			headers: map[string]string{"Content-Range": "bytes 7-9/10"}},
		{name: "GET unsatisfiable range", method: http.MethodGet, path: path, rng: "bytes=20-", status: 416,
			headers: map[string]string{"Content-Range": "bytes */10"}},
		{name: "GET missing", method: http.MethodGet, path: "/v2/app/blobs/" + missing, status: 404, code: "BLOB_UNKNOWN"},
		{name: "HEAD missing", method: http.MethodHead, path: "/v2/app/blobs/" + missing, status: 404},
		{name: "GET malformed digest", method: http.MethodGet, path: "/v2/app/blobs/sha256:beef", status: 400, code: "DIGEST_INVALID"},
		{name: "GET from a missing repository", method: http.MethodGet, path: "/v2/nothing/blobs/" + d.String(), status: 404, code: "NAME_UNKNOWN"},
		{name: "GET another account's", method: http.MethodGet, path: "/v2/222222222222/app/blobs/" + d.String(), status: 403, code: "DENIED"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var h map[string]string
			if tc.rng != "" {
				h = map[string]string{"Range": tc.rng}
			}
			resp, body := s.do(t, req{method: tc.method, path: tc.path, header: h})
			if tc.code != "" {
				_, detail := wantError(t, resp, body, tc.status, tc.code)
				if tc.code == "BLOB_UNKNOWN" {
					var det map[string]string
					if err := json.Unmarshal(detail, &det); err != nil || det["digest"] != missing {
						t.Errorf("detail = %s, want the digest", detail)
					}
				}
				return
			}
			wantStatus(t, resp, body, tc.status)
			wantHeaders(t, resp, tc.headers)
			if tc.status < 300 && string(body) != tc.body {
				t.Fatalf("body = %q, want %q", body, tc.body)
			}
		})
	}
}

func TestDeleteBlob(t *testing.T) {
	t.Parallel()
	s := newServer(t, registry.Options{})
	d := s.pushBlob(t, "app", []byte("short-lived"))
	path := "/v2/app/blobs/" + d.String()
	resp, body := s.do(t, req{method: http.MethodDelete, path: path, as: asOther})
	wantError(t, resp, body, http.StatusForbidden, "DENIED")
	resp, body = s.do(t, req{method: http.MethodDelete, path: path})
	wantStatus(t, resp, body, http.StatusAccepted)
	wantHeaders(t, resp, map[string]string{"Content-Length": "0"})
	resp, body = s.do(t, req{method: http.MethodGet, path: path})
	wantError(t, resp, body, http.StatusNotFound, "BLOB_UNKNOWN")
	resp, body = s.do(t, req{method: http.MethodDelete, path: path})
	wantError(t, resp, body, http.StatusNotFound, "BLOB_UNKNOWN")
}
