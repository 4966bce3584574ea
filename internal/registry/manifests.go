package registry

import (
	"context"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/metastore"
	"github.com/berth-registry/berth/internal/oci"
)

// MaxPageSize bounds every listing page (ECR's maxResults ceiling).
const MaxPageSize = 1000

// PutManifestResult says what a manifest push stored.
type PutManifestResult struct {
	Digest    digest.Digest
	MediaType string
	Subject   digest.Digest // empty when the manifest has no subject
}

// PutManifest stores a manifest pushed to reference (a tag or a digest),
// also tagging it with extraTags. Everything it references must already be
// in the repository.
func (s *Service) PutManifest(ctx context.Context, who auth.Principal, r RepoRef, reference, contentType string, body []byte, extraTags []string) (PutManifestResult, error) {
	if err := validateName(r); err != nil {
		return PutManifestResult{}, err
	}
	alg := digest.Canonical
	var tags []string
	var want digest.Digest
	if oci.IsDigest(reference) {
		d, err := parseDigest(reference)
		if err != nil {
			return PutManifestResult{}, err
		}
		want, alg = d, d.Algorithm()
	} else {
		tags = append(tags, reference)
	}
	tags = append(tags, extraTags...)
	for _, t := range tags {
		if err := oci.ValidateTag(t); err != nil {
			return PutManifestResult{}, &Error{Kind: ErrTagInvalid, Message: err.Error(), Detail: map[string]string{"tag": t}}
		}
	}
	// Authorized, and the repository found, before any work; a missing
	// one is created (under createOnPush) only for a valid manifest.
	repo, exists, err := s.pushTarget(ctx, who, ActionPutImage, r)
	if err != nil {
		return PutManifestResult{}, err
	}
	m, err := oci.ParseManifest(contentType, body)
	if err != nil {
		return PutManifestResult{}, errorf(ErrManifestInvalid, "%s", err.Error())
	}
	d := alg.FromBytes(body)
	if want != "" && d != want {
		return PutManifestResult{}, digestMismatch(want, d)
	}
	if !exists {
		// A repository created now holds nothing, so a manifest that
		// references anything is refused before creating it.
		if refs := append(m.BlobReferences(), m.ChildManifests()...); len(refs) > 0 {
			kind := metastore.RefBlob
			if len(m.BlobReferences()) == 0 {
				kind = metastore.RefManifest
			}
			return PutManifestResult{}, missingReference(&metastore.MissingReferenceError{Kind: kind, Digest: refs[0]})
		}
		if repo, err = s.repository(ctx, who, ActionPutImage, r, true); err != nil {
			return PutManifestResult{}, err
		}
	}
	rec, refs, err := s.manifestRecord(ctx, repo.ID, m, d, body)
	if err != nil {
		return PutManifestResult{}, err
	}
	if err := s.meta.PutManifest(ctx, rec, refs, tags, putOptions(repo)); err != nil {
		var te *metastore.TagExistsError
		if errors.As(err, &te) {
			return PutManifestResult{}, tagImmutable(te.Tag, r, repo)
		}
		return PutManifestResult{}, missingReference(err)
	}
	return PutManifestResult{Digest: d, MediaType: rec.MediaType, Subject: rec.Subject}, nil
}

// manifestRecord builds the stored record and its references.
func (s *Service) manifestRecord(ctx context.Context, repoID int64, m *oci.Manifest, d digest.Digest, body []byte) (metastore.Manifest, []metastore.Reference, error) {
	rec := metastore.Manifest{
		RepositoryID: repoID, Digest: d, MediaType: m.MediaType, ArtifactType: m.ArtifactType,
		Annotations: m.Annotations, Size: int64(len(body)), Body: body, ImageSize: m.ImageSize(), PushedAt: s.now(),
	}
	if m.Subject != nil {
		rec.Subject = m.Subject.Digest
	}
	var refs []metastore.Reference
	for _, b := range m.BlobReferences() {
		refs = append(refs, metastore.Reference{Kind: metastore.RefBlob, Digest: b})
	}
	for _, c := range m.ChildManifests() {
		refs = append(refs, metastore.Reference{Kind: metastore.RefManifest, Digest: c})
		child, err := s.meta.GetManifest(ctx, repoID, c)
		if errors.Is(err, metastore.ErrNotFound) {
			return rec, nil, missingReference(&metastore.MissingReferenceError{Kind: metastore.RefManifest, Digest: c})
		}
		if err != nil {
			return rec, nil, fmt.Errorf("get child manifest: %w", err)
		}
		rec.ImageSize = max(rec.ImageSize, child.ImageSize) // ECR: an index's size is its largest child's
	}
	return rec, refs, nil
}

// putOptions applies the repository's tag mutability.
func putOptions(repo metastore.Repository) metastore.PutOptions {
	return metastore.PutOptions{Immutable: tagImmutability(repo)}
}

func tagImmutable(tag string, r RepoRef, repo metastore.Repository) error {
	why := "the repository is immutable"
	if repo.ImageTagMutability != Immutable {
		why = "the tag is immutable" // ECR's wording when filters decide
	}
	return &Error{Kind: ErrTagImmutable, Message: fmt.Sprintf("The image tag '%s' already exists in the '%s' repository "+
		"and cannot be overwritten because %s.", tag, r.Name, why),
		Detail: map[string]string{"tag": tag}}
}

func missingReference(err error) error {
	var mr *metastore.MissingReferenceError
	if !errors.As(err, &mr) {
		return fmt.Errorf("store manifest: %w", err)
	}
	what, kind := "blob", ErrManifestBlobUnknown
	if mr.Kind == metastore.RefManifest {
		what, kind = "manifest", ErrManifestChildUnknown
	}
	return &Error{Kind: kind,
		Message: fmt.Sprintf("the manifest references %s %s, which does not exist in this repository; push it first", what, mr.Digest),
		Detail:  map[string]string{"digest": mr.Digest.String()}}
}

// GetManifest returns the manifest reference (tag or digest) names in r:
// a pull (GET or HEAD), recorded for the image's lastRecordedPullTime. An
// image that is archived or being restored cannot be pulled
// (ErrImageArchived).
func (s *Service) GetManifest(ctx context.Context, who auth.Principal, r RepoRef, reference string) (metastore.Manifest, error) {
	repo, err := s.repository(ctx, who, ActionBatchGetImage, r, false)
	if err != nil {
		return metastore.Manifest{}, err
	}
	var m metastore.Manifest
	if oci.IsDigest(reference) {
		d, perr := parseDigest(reference)
		if perr != nil {
			return metastore.Manifest{}, perr
		}
		m, err = s.meta.GetManifest(ctx, repo.ID, d)
	} else {
		if terr := oci.ValidateTag(reference); terr != nil {
			return metastore.Manifest{}, &Error{Kind: ErrTagInvalid, Message: terr.Error()}
		}
		m, err = s.meta.GetManifestByTag(ctx, repo.ID, reference)
	}
	if errors.Is(err, metastore.ErrNotFound) {
		return metastore.Manifest{}, &Error{Kind: ErrManifestUnknown, Message: "Requested image not found",
			Detail: map[string]string{"reference": reference}}
	}
	if err != nil {
		return metastore.Manifest{}, fmt.Errorf("get manifest: %w", err)
	}
	if m.Status != metastore.ImageActive {
		return metastore.Manifest{}, archivedError(who, r, reference, m)
	}
	s.recordPull(who, repo, m.Digest)
	return m, nil
}

// DeleteManifest deletes by digest (the image and all its tags) or by tag
// (that tag only).
func (s *Service) DeleteManifest(ctx context.Context, who auth.Principal, r RepoRef, reference string) error {
	repo, err := s.repository(ctx, who, ActionBatchDeleteImage, r, false)
	if err != nil {
		return err
	}
	if oci.IsDigest(reference) {
		d, perr := parseDigest(reference)
		if perr != nil {
			return perr
		}
		err = s.meta.DeleteManifest(ctx, repo.ID, d)
	} else {
		if terr := oci.ValidateTag(reference); terr != nil {
			return &Error{Kind: ErrTagInvalid, Message: terr.Error()}
		}
		err = s.meta.DeleteTag(ctx, repo.ID, reference)
	}
	switch {
	case errors.Is(err, metastore.ErrNotFound):
		return &Error{Kind: ErrManifestUnknown, Message: "Requested image not found",
			Detail: map[string]string{"reference": reference}}
	case errors.Is(err, metastore.ErrReferenced):
		return errorf(ErrManifestReferenced,
			"manifest %s is referenced by an image index in this repository; delete the index first", reference)
	case err != nil:
		return fmt.Errorf("delete manifest: %w", err)
	}
	return nil
}

// checkPage validates a page size.
func checkPage(n int) error {
	if n < 0 || n > MaxPageSize {
		return errorf(ErrPaginationInvalid, "n must be between 0 and %d", MaxPageSize)
	}
	return nil
}

// ListTags returns up to n tag names after last, and whether more follow.
func (s *Service) ListTags(ctx context.Context, who auth.Principal, r RepoRef, last string, n int) ([]string, bool, error) {
	if err := checkPage(n); err != nil {
		return nil, false, err
	}
	repo, err := s.repository(ctx, who, ActionListImages, r, false)
	if err != nil || n == 0 {
		return []string{}, false, err
	}
	tags, err := s.meta.ListTags(ctx, repo.ID, metastore.Page{Last: last, Limit: n + 1})
	if err != nil {
		return nil, false, fmt.Errorf("list tags: %w", err)
	}
	names := make([]string, 0, min(len(tags), n))
	for i := 0; i < len(tags) && i < n; i++ {
		names = append(names, tags[i].Name)
	}
	return names, len(tags) > n, nil
}

// Catalog lists up to n repository names of an account after last that
// the caller may describe, and whether more may follow.
func (s *Service) Catalog(ctx context.Context, who auth.Principal, accountID, last string, n int) ([]string, bool, error) {
	if err := checkPage(n); err != nil || n == 0 {
		return []string{}, false, err
	}
	names := []string{}
	for len(names) < n {
		repos, err := s.meta.ListRepositories(ctx, accountID, metastore.Page{Last: last, Limit: n + 1})
		if err != nil {
			return nil, false, fmt.Errorf("list repositories: %w", err)
		}
		for _, repo := range repos {
			last = repo.Name
			ref := RepoRef{AccountID: accountID, Name: repo.Name}
			if s.authorize(ctx, who, ActionDescribeRepositories, ref) != nil {
				continue
			}
			if len(names) == n {
				return names, true, nil
			}
			names = append(names, repo.Name)
		}
		if len(repos) <= n {
			return names, false, nil
		}
	}
	return names, true, nil
}

// Referrers lists up to n ACTIVE manifests in r whose subject is dgst,
// after the digest last, optionally only those of artifactType, as OCI
// descriptors, and whether more follow: the /v2 referrers API, which lists
// only what can be pulled.
func (s *Service) Referrers(ctx context.Context, who auth.Principal, r RepoRef, dgst, artifactType, last string, n int) ([]oci.Descriptor, bool, error) {
	ms, more, err := s.ListReferrers(ctx, who, r, dgst, artifactType, ImageActive, last, n)
	if err != nil {
		return nil, false, err
	}
	out := make([]oci.Descriptor, 0, len(ms))
	for _, m := range ms {
		out = append(out, oci.Descriptor{MediaType: m.MediaType, Digest: m.Digest, Size: m.Size,
			ArtifactType: m.ArtifactType, Annotations: m.Annotations})
	}
	return out, more, nil
}

// ListReferrers lists up to n manifests in r whose subject is dgst and
// whose status status admits (ImageStatusAny: all), after the digest last,
// optionally only those of artifactType, and whether more follow.
func (s *Service) ListReferrers(ctx context.Context, who auth.Principal, r RepoRef, dgst, artifactType string, status ImageStatus, last string, n int) ([]metastore.Manifest, bool, error) {
	d, err := parseDigest(dgst)
	if err != nil {
		return nil, false, err
	}
	if err := checkPage(n); err != nil || n == 0 {
		return []metastore.Manifest{}, false, err
	}
	repo, err := s.repository(ctx, who, ActionBatchGetImage, r, false)
	if err != nil {
		return nil, false, err
	}
	// Read pages until n+1 match: the extra one tells that more follow.
	out := make([]metastore.Manifest, 0, n+1)
	for len(out) <= n {
		ms, err := s.meta.Referrers(ctx, repo.ID, d, artifactType, metastore.Page{Last: last, Limit: n + 1})
		if err != nil {
			return nil, false, fmt.Errorf("list referrers: %w", err)
		}
		for _, m := range ms {
			last = m.Digest.String()
			if status == ImageStatusAny || m.Status == status {
				m.Body = nil // descriptors only
				out = append(out, m)
			}
		}
		if len(ms) <= n {
			break
		}
	}
	if len(out) > n {
		return out[:n], true, nil
	}
	return out, false, nil
}
