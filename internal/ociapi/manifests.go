package ociapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"unicode/utf8"

	"github.com/berth-registry/berth/internal/oci"
	"github.com/berth-registry/berth/internal/registry"
)

func (h *Handler) getManifest(q *request) {
	m, err := h.svc.GetManifest(q.r.Context(), q.who, q.repo, q.route.ref)
	if err != nil {
		h.fail(q, err)
		return
	}
	hd := q.w.Header()
	hd.Set("Content-Type", m.MediaType)
	hd.Set("Content-Length", strconv.Itoa(len(m.Body)))
	hd.Set("Docker-Content-Digest", m.Digest.String())
	hd.Set("ETag", `"`+m.Digest.String()+`"`)
	q.w.WriteHeader(http.StatusOK)
	if q.r.Method == http.MethodGet {
		_, _ = q.w.Write(m.Body)
	}
}

// putManifest reads at most oci.MaxManifestSize bytes; a larger body is
// refused before it is read in full.
func (h *Handler) putManifest(q *request) {
	if q.r.ContentLength > oci.MaxManifestSize {
		h.fail(q, tooLarge())
		return
	}
	body, err := io.ReadAll(io.LimitReader(q.r.Body, oci.MaxManifestSize+1))
	if err != nil {
		h.fail(q, fmt.Errorf("read manifest: %w", err))
		return
	}
	if len(body) > oci.MaxManifestSize {
		h.fail(q, tooLarge())
		return
	}
	tags := q.r.URL.Query()["tag"]
	res, err := h.svc.PutManifest(q.r.Context(), q.who, q.repo, q.route.ref, q.r.Header.Get("Content-Type"), body, tags)
	if err != nil {
		h.fail(q, err)
		return
	}
	hd := q.w.Header()
	hd.Set("Location", "/v2/"+q.route.name+"/manifests/"+res.Digest.String())
	hd.Set("Docker-Content-Digest", res.Digest.String())
	if res.Subject != "" {
		hd.Set("OCI-Subject", res.Subject.String())
	}
	for _, t := range tags {
		hd.Add("OCI-Tag", t)
	}
	hd.Set("Content-Length", "0")
	q.w.WriteHeader(http.StatusCreated)
}

func tooLarge() error {
	return &registry.Error{Kind: registry.ErrManifestInvalid,
		Message: fmt.Sprintf("manifest exceeds the maximum size of %d bytes", oci.MaxManifestSize)}
}

func (h *Handler) deleteManifest(q *request) {
	if err := h.svc.DeleteManifest(q.r.Context(), q.who, q.repo, q.route.ref); err != nil {
		h.fail(q, err)
		return
	}
	q.w.Header().Set("Content-Length", "0")
	q.w.WriteHeader(http.StatusAccepted)
}

// pageParams reads n and last; n defaults to the maximum page size.
func pageParams(q *request) (n int, last string, err error) {
	v := q.r.URL.Query()
	n = registry.MaxPageSize
	if s := v.Get("n"); s != "" {
		n, err = strconv.Atoi(s)
		if err != nil || n < 0 || n > registry.MaxPageSize {
			return 0, "", &registry.Error{Kind: registry.ErrPaginationInvalid,
				Message: fmt.Sprintf("n must be an integer between 0 and %d", registry.MaxPageSize)}
		}
	}
	last = v.Get("last")
	if !utf8.ValidString(last) { // no name is; and PostgreSQL cannot compare it
		return 0, "", &registry.Error{Kind: registry.ErrPaginationInvalid, Message: "last must be valid UTF-8"}
	}
	return n, last, nil
}

// writeList writes a JSON listing with a Link header to the next page.
func writeList(q *request, body any, n int, more bool, lastItem string) {
	if more {
		next := url.Values{"n": {strconv.Itoa(n)}, "last": {lastItem}}
		q.w.Header().Set("Link", fmt.Sprintf(`<%s?%s>; rel="next"`, q.r.URL.Path, next.Encode()))
	}
	writeJSON(q.w, "application/json", body)
}

func writeJSON(w http.ResponseWriter, contentType string, body any) {
	b, err := json.Marshal(body)
	if err != nil {
		http.Error(w, "encode response", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

func (h *Handler) tags(q *request) {
	n, last, err := pageParams(q)
	if err != nil {
		h.fail(q, err)
		return
	}
	tags, more, err := h.svc.ListTags(q.r.Context(), q.who, q.repo, last, n)
	if err != nil {
		h.fail(q, err)
		return
	}
	writeList(q, struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}{q.route.name, tags}, n, more, lastOf(tags))
}

func (h *Handler) catalog(q *request) {
	n, last, err := pageParams(q)
	if err != nil {
		h.fail(q, err)
		return
	}
	names, more, err := h.svc.Catalog(q.r.Context(), q.who, q.repo.AccountID, last, n)
	if err != nil {
		h.fail(q, err)
		return
	}
	writeList(q, struct {
		Repositories []string `json:"repositories"`
	}{names}, n, more, lastOf(names))
}

func lastOf(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[len(s)-1]
}

// referrers answers with an OCI index of the manifests whose subject is
// the digest, always 200 (an empty index when there are none), at most n
// (default and maximum 1000) per response with a Link to the next page.
func (h *Handler) referrers(q *request) {
	n, last, err := pageParams(q)
	if err != nil {
		h.fail(q, err)
		return
	}
	artifactType := q.r.URL.Query().Get("artifactType")
	descs, more, err := h.svc.Referrers(q.r.Context(), q.who, q.repo, q.route.ref, artifactType, last, n)
	if err != nil {
		// A repository with nothing pushed yet has no referrers: the
		// answer is an empty index, as for any unknown subject.
		if !errors.Is(err, registry.ErrNameUnknown) {
			h.fail(q, err)
			return
		}
		descs = nil
	}
	if descs == nil {
		descs = []oci.Descriptor{}
	}
	if artifactType != "" {
		q.w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	if more {
		next := url.Values{"n": {strconv.Itoa(n)}, "last": {descs[len(descs)-1].Digest.String()}}
		if artifactType != "" {
			next.Set("artifactType", artifactType)
		}
		q.w.Header().Set("Link", fmt.Sprintf(`<%s?%s>; rel="next"`, q.r.URL.Path, next.Encode()))
	}
	writeJSON(q.w, oci.MediaTypeImageIndex, struct {
		SchemaVersion int              `json:"schemaVersion"`
		MediaType     string           `json:"mediaType"`
		Manifests     []oci.Descriptor `json:"manifests"`
	}{2, oci.MediaTypeImageIndex, descs})
}
