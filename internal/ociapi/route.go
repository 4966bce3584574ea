package ociapi

import (
	"strings"

	"github.com/berth-registry/berth/internal/oci"
)

// endpoint names one /v2 route.
type endpoint int

const (
	epNone endpoint = iota
	epBase
	epCatalog
	epTags
	epManifest
	epBlob
	epUploads // POST .../blobs/uploads/
	epUpload  // .../blobs/uploads/<id>
	epReferrers
)

// String is the endpoint's route name in metrics and logs.
func (e endpoint) String() string {
	switch e {
	case epBase:
		return "base"
	case epCatalog:
		return "catalog"
	case epTags:
		return "tags"
	case epManifest:
		return "manifest"
	case epBlob:
		return "blob"
	case epUploads:
		return "upload_start"
	case epUpload:
		return "upload"
	case epReferrers:
		return "referrers"
	}
	return "unknown"
}

// route is a parsed /v2 path.
type route struct {
	ep      endpoint
	name    string // repository name as it appears in the path (may carry an account prefix)
	account string // account id from the path prefix, "" when none
	repo    string // repository name without the account prefix
	ref     string // tag, digest or upload id
}

// parseRoute splits a /v2 path. Repository names may contain slashes, so
// the path is matched from its end: the last path element(s) name the
// endpoint and everything before them is the name.
func parseRoute(path string) route {
	rest, ok := strings.CutPrefix(path, "/v2/")
	if !ok {
		if path == "/v2" {
			return route{ep: epBase}
		}
		return route{}
	}
	switch rest {
	case "":
		return route{ep: epBase}
	case "_catalog":
		return route{ep: epCatalog}
	}
	if name, ok := strings.CutSuffix(rest, "/tags/list"); ok {
		return withName(route{ep: epTags}, name)
	}
	if name, ok := strings.CutSuffix(rest, "/blobs/uploads/"); ok {
		return withName(route{ep: epUploads}, name)
	}
	if name, ok := strings.CutSuffix(rest, "/blobs/uploads"); ok {
		return withName(route{ep: epUploads}, name)
	}
	for _, s := range []struct {
		sep string
		ep  endpoint
	}{{"/blobs/uploads/", epUpload}, {"/manifests/", epManifest}, {"/blobs/", epBlob}, {"/referrers/", epReferrers}} {
		i := strings.LastIndex(rest, s.sep)
		if i <= 0 {
			continue
		}
		ref := rest[i+len(s.sep):]
		if ref == "" || strings.Contains(ref, "/") {
			continue
		}
		return withName(route{ep: s.ep, ref: ref}, rest[:i])
	}
	return route{}
}

// withName records the name and splits off a 12-digit account prefix.
func withName(r route, name string) route {
	if name == "" {
		return route{}
	}
	r.name, r.repo = name, name
	if acct, repo, ok := strings.Cut(name, "/"); ok && oci.IsAccountID(acct) {
		r.account, r.repo = acct, repo
	}
	return r
}
