package ociapi

import (
	"net/http"
	"strings"
	"testing"
)

const dg = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestParseRoute(t *testing.T) {
	t.Parallel()
	const id = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
	tests := []struct {
		path string
		want route
	}{
		{"/v2", route{ep: epBase}},
		{"/v2/", route{ep: epBase}},
		{"/v2/_catalog", route{ep: epCatalog}},
		{"/v2/app/tags/list", route{ep: epTags, name: "app", repo: "app"}},
		{"/v2/team/app/tags/list", route{ep: epTags, name: "team/app", repo: "team/app"}},
		{"/v2/app/manifests/latest", route{ep: epManifest, name: "app", repo: "app", ref: "latest"}},
		{"/v2/app/manifests/" + dg, route{ep: epManifest, name: "app", repo: "app", ref: dg}},
		{"/v2/app/blobs/" + dg, route{ep: epBlob, name: "app", repo: "app", ref: dg}},
		{"/v2/app/blobs/uploads/", route{ep: epUploads, name: "app", repo: "app"}},
		{"/v2/app/blobs/uploads", route{ep: epUploads, name: "app", repo: "app"}},
		{"/v2/app/blobs/uploads/" + id, route{ep: epUpload, name: "app", repo: "app", ref: id}},
		{"/v2/app/referrers/" + dg, route{ep: epReferrers, name: "app", repo: "app", ref: dg}},

		// Names holding the words the endpoints are made of.
		{"/v2/a/manifests/b/manifests/latest", route{ep: epManifest, name: "a/manifests/b", repo: "a/manifests/b", ref: "latest"}},
		{"/v2/a/manifests/b/blobs/" + dg, route{ep: epBlob, name: "a/manifests/b", repo: "a/manifests/b", ref: dg}},
		{"/v2/a/blobs/b/blobs/uploads/", route{ep: epUploads, name: "a/blobs/b", repo: "a/blobs/b"}},
		{"/v2/a/blobs/uploads/b/blobs/uploads/" + id, route{ep: epUpload, name: "a/blobs/uploads/b", repo: "a/blobs/uploads/b", ref: id}},
		{"/v2/a/blobs/uploads/manifests/v1", route{ep: epManifest, name: "a/blobs/uploads", repo: "a/blobs/uploads", ref: "v1"}},
		{"/v2/a/tags/list/tags/list", route{ep: epTags, name: "a/tags/list", repo: "a/tags/list"}},
		{"/v2/a/tags/list/manifests/v1", route{ep: epManifest, name: "a/tags/list", repo: "a/tags/list", ref: "v1"}},
		{"/v2/manifests/manifests/latest", route{ep: epManifest, name: "manifests", repo: "manifests", ref: "latest"}},
		{"/v2/referrers/referrers/" + dg, route{ep: epReferrers, name: "referrers", repo: "referrers", ref: dg}},
		{"/v2/_catalog/tags/list", route{ep: epTags, name: "_catalog", repo: "_catalog"}},

		// Account prefixes.
		{"/v2/123456789012/app/manifests/v1", route{ep: epManifest, name: "123456789012/app", account: "123456789012", repo: "app", ref: "v1"}},
		{"/v2/123456789012/a/b/blobs/uploads/", route{ep: epUploads, name: "123456789012/a/b", account: "123456789012", repo: "a/b"}},
		{"/v2/123456789012/tags/list", route{ep: epTags, name: "123456789012", repo: "123456789012"}},
		{"/v2/12345678901/app/tags/list", route{ep: epTags, name: "12345678901/app", repo: "12345678901/app"}},

		// Not routes.
		{"/", route{}},
		{"/v3/app/tags/list", route{}},
		{"/v2x/app/tags/list", route{}},
		{"/v2/app", route{}},
		{"/v2/app/manifests/", route{}},
		{"/v2/app/blobs/", route{}},
		{"/v2/app/referrers/", route{}},
		{"/v2/manifests/latest", route{}},
		{"/v2//manifests/latest", route{}},
		{"/v2/tags/list", route{}},
		{"/v2/_catalog/", route{}},
		{"/v2/app/manifests/a/b", route{}},
		{"/v2/app/unknown/x", route{}},
	}
	for _, tc := range tests {
		if got := parseRoute(tc.path); got != tc.want {
			t.Errorf("parseRoute(%q) =\n  %+v\nwant\n  %+v", tc.path, got, tc.want)
		}
	}
}

func TestParseContentRange(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in         string
		start, end int64
		ok         bool
	}{
		{"0-0", 0, 0, true},
		{"0-99", 0, 99, true},
		{"100-199", 100, 199, true},
		{"bytes 0-99/*", 0, 99, true},
		{"bytes 5-9/10", 5, 9, true},
		{"5-9/10", 5, 9, true},
		{"", 0, 0, false},
		{"5", 0, 0, false},
		{"-5", 0, 0, false},
		{"5-", 0, 0, false},
		{"9-5", 0, 0, false},
		{"-1-5", 0, 0, false},
		{"a-b", 0, 0, false},
		{"0x1-0x2", 0, 0, false},
		{"bytes=0-5", 0, 0, false},
		{"0-99999999999999999999", 0, 0, false},
		{" 0-5", 0, 0, false},
	}
	for _, tc := range tests {
		s, e, ok := parseContentRange(tc.in)
		if ok != tc.ok || (ok && (s != tc.start || e != tc.end)) {
			t.Errorf("parseContentRange(%q) = %d, %d, %v; want %d, %d, %v", tc.in, s, e, ok, tc.start, tc.end, tc.ok)
		}
	}
}

func TestChunkRange(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		contentRange  string
		contentLength int64
		start, length int64
		ok            bool
	}{
		{"no range", "", 10, -1, 10, true},
		{"no range, streamed", "", -1, -1, -1, true},
		{"empty body ignores range", "0-9", 0, -1, 0, true},
		{"range matches length", "10-19", 10, 10, 10, true},
		{"range, streamed", "10-19", -1, 10, 10, true},
		{"range disagrees with length", "0-9", 5, 0, 0, false},
		{"malformed", "zero-nine", 10, 0, 0, false},
		{"range too long to count", "0-9223372036854775807", -1, 0, 0, false},
	}
	for _, tc := range tests {
		r, _ := http.NewRequest(http.MethodPatch, "/", strings.NewReader(""))
		r.ContentLength = tc.contentLength
		if tc.contentRange != "" {
			r.Header.Set("Content-Range", tc.contentRange)
		}
		s, n, ok := chunkRange(r)
		if ok != tc.ok || (ok && (s != tc.start || n != tc.length)) {
			t.Errorf("%s: chunkRange = %d, %d, %v; want %d, %d, %v", tc.name, s, n, ok, tc.start, tc.length, tc.ok)
		}
	}
}
