package ociapi

import (
	"net/http"
	"strings"

	"github.com/berth-registry/berth/internal/audit"
	"github.com/berth-registry/berth/internal/registry"
)

// /v2 calls are audited under the ECR action they map to (spec §1.4), as
// CloudTrail logs ECR's registry calls: every push step, pull and delete,
// and any other call only when it is denied. Calls ECR has no action for
// carry Berth's own names (RegistryLogin, GetLayerUploadStatus,
// AbortLayerUpload, DeleteLayer).

// v2Call is how a /v2 request is audited.
type v2Call struct {
	name       string
	readOnly   bool
	onlyDenied bool
}

var v2Calls = map[routeKey]v2Call{
	{epBase, http.MethodGet}:        {"RegistryLogin", true, true},
	{epBase, http.MethodHead}:       {"RegistryLogin", true, true},
	{epCatalog, http.MethodGet}:     {"DescribeRepositories", true, true},
	{epTags, http.MethodGet}:        {"ListImages", true, true},
	{epManifest, http.MethodGet}:    {"BatchGetImage", true, false},
	{epManifest, http.MethodHead}:   {"BatchGetImage", true, true},
	{epManifest, http.MethodPut}:    {"PutImage", false, false},
	{epManifest, http.MethodDelete}: {"BatchDeleteImage", false, false},
	{epBlob, http.MethodGet}:        {"GetDownloadUrlForLayer", true, false},
	{epBlob, http.MethodHead}:       {"BatchCheckLayerAvailability", true, true},
	{epBlob, http.MethodDelete}:     {"DeleteLayer", false, false},
	{epUploads, http.MethodPost}:    {"InitiateLayerUpload", false, false},
	{epUpload, http.MethodGet}:      {"GetLayerUploadStatus", true, true},
	{epUpload, http.MethodPatch}:    {"UploadLayerPart", false, false},
	{epUpload, http.MethodPut}:      {"CompleteLayerUpload", false, false},
	{epUpload, http.MethodDelete}:   {"AbortLayerUpload", false, false},
	{epReferrers, http.MethodGet}:   {"ListImageReferrers", true, true},
}

// noteCall describes the request on the audit note, in ECR's terms.
func (h *Handler) noteCall(n *audit.Note, r *http.Request, rt route, account string) {
	c, ok := v2Calls[routeKey{rt.ep, r.Method}]
	if n == nil || !ok {
		return
	}
	n.Call(audit.SourceECR, c.name, c.readOnly)
	if c.onlyDenied {
		n.OnlyIfDenied()
	}
	if rt.repo == "" {
		return
	}
	n.RequestFunc(func() map[string]any { return v2Params(r, rt, account) })
	n.Resource(h.svc.ARN(registry.RepoRef{AccountID: account, Name: rt.repo}), account, audit.ResourceTypeRepository)
}

// v2Params are a /v2 call's request parameters in ECR's shape.
func v2Params(r *http.Request, rt route, account string) map[string]any {
	p := map[string]any{"repositoryName": rt.repo, "registryId": account}
	switch rt.ep {
	case epManifest:
		id := imageID(rt.ref)
		if r.Method == http.MethodPut {
			for k, v := range id {
				p[k] = v
			}
			p["imageManifestMediaType"] = r.Header.Get("Content-Type")
		} else {
			p["imageIds"] = []any{id}
		}
	case epBlob:
		if r.Method == http.MethodHead {
			p["layerDigests"] = []any{rt.ref}
		} else {
			p["layerDigest"] = rt.ref
		}
	case epUploads:
		if from := r.URL.Query().Get("from"); from != "" {
			p["mountFrom"] = from
		}
		if d := r.URL.Query().Get("mount"); d != "" {
			p["mountDigest"] = d
		}
	case epUpload:
		p["uploadId"] = rt.ref
		if d := r.URL.Query().Get("digest"); d != "" {
			p["layerDigests"] = []any{d}
		}
	}
	return p
}

// imageID is ECR's ImageIdentifier for a manifest reference.
func imageID(ref string) map[string]any {
	if strings.Contains(ref, ":") {
		return map[string]any{"imageDigest": ref}
	}
	return map[string]any{"imageTag": ref}
}

// noteResponse records what a successful push step or delete answered,
// from the response headers the handler set.
func noteResponse(n *audit.Note, q *request) {
	c := v2Calls[routeKey{q.route.ep, q.r.Method}]
	if n == nil || c.readOnly { // pulls and HEADs (the hot path) record no response
		return
	}
	hd := q.w.Header()
	base := map[string]any{"repositoryName": q.repo.Name, "registryId": q.repo.AccountID}
	switch c.name {
	case "PutImage":
		id := map[string]any{"imageDigest": hd.Get("Docker-Content-Digest")}
		if !strings.Contains(q.route.ref, ":") {
			id["imageTag"] = q.route.ref
		}
		base["imageId"] = id
		base["imageManifestMediaType"] = q.r.Header.Get("Content-Type")
		n.ResponseFields(map[string]any{"image": base})
	case "InitiateLayerUpload", "UploadLayerPart":
		base["uploadId"] = hd.Get("Docker-Upload-UUID")
		if _, last, ok := strings.Cut(hd.Get("Range"), "-"); ok {
			base["lastByteReceived"] = last
		}
		if d := hd.Get("Docker-Content-Digest"); d != "" { // a mount or a monolithic upload
			base["layerDigest"] = d
		}
		n.ResponseFields(base)
	case "CompleteLayerUpload":
		base["uploadId"] = q.route.ref
		base["layerDigest"] = hd.Get("Docker-Content-Digest")
		n.ResponseFields(base)
	case "BatchDeleteImage":
		n.ResponseFields(map[string]any{"imageIds": []any{imageID(q.route.ref)}, "failures": []any{}})
	}
}

// deniedCode reports whether an error answers a denied call: DENIED, or
// UNAUTHORIZED unless it is the credential challenge of a /v2/ check sent
// without credentials (what every client does first).
func deniedCode(c code, r *http.Request) bool {
	switch c {
	case codeDenied:
		return true
	case codeUnauthorized:
		rt := parseRoute(r.URL.Path)
		return rt.ep != epBase || r.Header.Get("Authorization") != ""
	}
	return false
}
