package registry

import (
	"cmp"
	"context"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/metastore"
	"github.com/berth-registry/berth/internal/oci"
)

// ImageID names an image by digest, tag, or both (ECR's ImageIdentifier).
type ImageID struct {
	Digest string
	Tag    string
}

// Image failure codes (ECR's ImageFailureCode).
const (
	FailureInvalidImageDigest            = "InvalidImageDigest"
	FailureInvalidImageTag               = "InvalidImageTag"
	FailureImageTagDoesNotMatchDigest    = "ImageTagDoesNotMatchDigest"
	FailureImageNotFound                 = "ImageNotFound"
	FailureMissingDigestAndTag           = "MissingDigestAndTag"
	FailureImageReferencedByManifestList = "ImageReferencedByManifestList"
	// FailureImageInaccessible: the image exists but cannot be pulled
	// (archived, or being restored).
	FailureImageInaccessible = "ImageInaccessible"
)

// ImageFailure is one image a batch operation could not process.
type ImageFailure struct {
	ID     ImageID
	Code   string
	Reason string
	// err is the store failure behind "could not be resolved", for callers
	// that must not answer as if the image were missing.
	err error
}

// ListImages pages through a repository's images that f admits, for
// ListImages (action ecr:ListImages) and DescribeImages (ecr:DescribeImages).
func (s *Service) ListImages(ctx context.Context, who auth.Principal, action string, r RepoRef, f ImageFilter, last string, n int) ([]metastore.Image, bool, error) {
	if err := checkPage(n); err != nil {
		return nil, false, err
	}
	repo, err := s.repository(ctx, who, action, r, false)
	if err != nil || n == 0 {
		return nil, false, err
	}
	imgs, err := s.meta.ListImages(ctx, repo.ID, f, metastore.Page{Last: last, Limit: n + 1})
	if err != nil {
		return nil, false, fmt.Errorf("list images: %w", err)
	}
	if len(imgs) > n {
		return imgs[:n], true, nil
	}
	return imgs, false, nil
}

// resolve turns an ImageID into a digest, or a failure.
func (s *Service) resolve(ctx context.Context, repoID int64, id ImageID) (digest.Digest, *ImageFailure) {
	fail := func(code, reason string) *ImageFailure { return &ImageFailure{ID: id, Code: code, Reason: reason} }
	if id.Digest == "" && id.Tag == "" {
		return "", fail(FailureMissingDigestAndTag, "Missing image digest and tag")
	}
	var d digest.Digest
	if id.Digest != "" {
		pd, err := oci.ParseDigest(id.Digest)
		if err != nil {
			return "", fail(FailureInvalidImageDigest, "Invalid image digest")
		}
		d = pd
	}
	if id.Tag == "" {
		return d, nil
	}
	if len(id.Tag) > 300 {
		return "", fail(FailureInvalidImageTag, "Invalid image tag")
	}
	td, err := s.meta.ResolveTag(ctx, repoID, id.Tag)
	switch {
	case errors.Is(err, metastore.ErrNotFound):
		return "", fail(FailureImageNotFound, "Requested image not found")
	case err != nil:
		f := fail(FailureImageNotFound, "Requested image could not be resolved")
		f.err = fmt.Errorf("resolve tag: %w", err)
		return "", f
	case d != "" && td != d:
		return "", fail(FailureImageTagDoesNotMatchDigest, "Image tag does not match the requested digest")
	}
	return td, nil
}

// DescribeImageIDs returns the images the ids name, and failures for the
// rest; ECR's DescribeImages with imageIds fails the whole call on the
// first missing image, which the caller decides.
func (s *Service) DescribeImageIDs(ctx context.Context, who auth.Principal, r RepoRef, ids []ImageID) ([]metastore.Image, []ImageFailure, error) {
	repo, err := s.repository(ctx, who, ActionDescribeImages, r, false)
	if err != nil {
		return nil, nil, err
	}
	var digests []digest.Digest
	var failures []ImageFailure
	for _, id := range ids {
		d, f := s.resolve(ctx, repo.ID, id)
		if f != nil {
			failures = append(failures, *f)
			continue
		}
		digests = append(digests, d)
	}
	imgs, err := s.meta.GetImages(ctx, repo.ID, digests)
	if err != nil {
		return nil, nil, fmt.Errorf("get images: %w", err)
	}
	found := map[digest.Digest]bool{}
	for _, im := range imgs {
		found[im.Digest] = true
	}
	for _, d := range digests {
		if !found[d] {
			failures = append(failures, ImageFailure{ID: ImageID{Digest: d.String()}, Code: FailureImageNotFound,
				Reason: "Requested image not found"})
		}
	}
	return dedupImages(imgs), failures, nil
}

func dedupImages(imgs []metastore.Image) []metastore.Image {
	seen := map[digest.Digest]bool{}
	out := imgs[:0]
	for _, im := range imgs {
		if !seen[im.Digest] {
			seen[im.Digest] = true
			out = append(out, im)
		}
	}
	return out
}

// BatchGetImage returns the manifests the ids name: a pull of each,
// recorded for lastRecordedPullTime. A manifest whose media type the caller
// does not accept is a failure: Berth serves manifests as stored and does
// not convert between formats. An image archived or being restored is an
// ImageInaccessible failure.
func (s *Service) BatchGetImage(ctx context.Context, who auth.Principal, r RepoRef, ids []ImageID, accepted []string) ([]metastore.Manifest, []ImageID, []ImageFailure, error) {
	repo, err := s.repository(ctx, who, ActionBatchGetImage, r, false)
	if err != nil {
		return nil, nil, nil, err
	}
	var out []metastore.Manifest
	var outIDs []ImageID
	var failures []ImageFailure
	for _, id := range ids {
		d, f := s.resolve(ctx, repo.ID, id)
		if f != nil {
			failures = append(failures, *f)
			continue
		}
		m, err := s.meta.GetManifest(ctx, repo.ID, d)
		if errors.Is(err, metastore.ErrNotFound) {
			failures = append(failures, ImageFailure{ID: id, Code: FailureImageNotFound, Reason: "Requested image not found"})
			continue
		}
		if err != nil {
			return nil, nil, nil, fmt.Errorf("get manifest: %w", err)
		}
		if m.Status != metastore.ImageActive {
			failures = append(failures, ImageFailure{ID: id, Code: FailureImageInaccessible,
				Reason: Message(archivedError(who, r, cmp.Or(id.Tag, d.String()), m))})
			continue
		}
		if len(accepted) > 0 && !contains(accepted, m.MediaType) {
			failures = append(failures, ImageFailure{ID: id, Code: FailureImageNotFound, Reason: fmt.Sprintf(
				"The image is stored as %s, which is not among the accepted media types", m.MediaType)})
			continue
		}
		s.recordPull(who, repo, m.Digest)
		out = append(out, m)
		outIDs = append(outIDs, ImageID{Digest: m.Digest.String(), Tag: id.Tag})
	}
	return out, outIDs, failures, nil
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// BatchDeleteImage deletes images: by digest the image and all its tags;
// by tag that tag, and the image with it when it was the image's last tag.
func (s *Service) BatchDeleteImage(ctx context.Context, who auth.Principal, r RepoRef, ids []ImageID) ([]ImageID, []ImageFailure, error) {
	repo, err := s.repository(ctx, who, ActionBatchDeleteImage, r, false)
	if err != nil {
		return nil, nil, err
	}
	var deleted []ImageID
	var failures []ImageFailure
	for _, id := range ids {
		d, f := s.resolve(ctx, repo.ID, id)
		if f != nil {
			failures = append(failures, *f)
			continue
		}
		ok, f, err := s.deleteImage(ctx, repo.ID, id, d)
		if err != nil {
			return nil, nil, err
		}
		if f != nil {
			failures = append(failures, *f)
			continue
		}
		if ok {
			deleted = append(deleted, ImageID{Digest: d.String(), Tag: id.Tag})
		}
	}
	return deleted, failures, nil
}

func (s *Service) deleteImage(ctx context.Context, repoID int64, id ImageID, d digest.Digest) (bool, *ImageFailure, error) {
	if id.Tag != "" && id.Digest == "" {
		if err := s.meta.DeleteTag(ctx, repoID, id.Tag); err != nil && !errors.Is(err, metastore.ErrNotFound) {
			return false, nil, fmt.Errorf("delete tag: %w", err)
		}
		imgs, err := s.meta.GetImages(ctx, repoID, []digest.Digest{d})
		if err != nil {
			return false, nil, fmt.Errorf("get image: %w", err)
		}
		if len(imgs) == 0 || len(imgs[0].Tags) > 0 {
			return true, nil, nil // other tags keep the image
		}
	}
	err := s.meta.DeleteManifest(ctx, repoID, d)
	switch {
	case errors.Is(err, metastore.ErrReferenced):
		if id.Tag != "" && id.Digest == "" {
			return true, nil, nil // the tag went; the image stays for the index that needs it
		}
		return false, &ImageFailure{ID: id, Code: FailureImageReferencedByManifestList,
			Reason: "The image is referenced by a manifest list and cannot be deleted"}, nil
	case errors.Is(err, metastore.ErrNotFound):
		return false, &ImageFailure{ID: id, Code: FailureImageNotFound, Reason: "Requested image not found"}, nil
	case err != nil:
		return false, nil, fmt.Errorf("delete manifest: %w", err)
	}
	return true, nil, nil
}

// PutImage stores a manifest through the API: with tag it tags it, with
// digest the manifest must hash to it. Putting an image that exists with the
// same tag (or, untagged, at all) is ErrImageExists, as in ECR.
func (s *Service) PutImage(ctx context.Context, who auth.Principal, r RepoRef, manifest []byte, mediaType, tag, dgst string) (PutManifestResult, error) {
	repo, err := s.repository(ctx, who, ActionPutImage, r, false)
	if err != nil {
		return PutManifestResult{}, err
	}
	alg := digest.Canonical
	if dgst != "" {
		d, err := parseDigest(dgst)
		if err != nil {
			return PutManifestResult{}, err
		}
		alg = d.Algorithm()
	}
	d := alg.FromBytes(manifest)
	if dgst != "" && d.String() != dgst {
		return PutManifestResult{}, digestMismatch(digest.Digest(dgst), d)
	}
	// An existing immutable tag is ImageTagAlreadyExists (PutManifest
	// decides); otherwise an identical image is ImageAlreadyExists.
	if immutable := tagImmutability(repo); immutable == nil || tag == "" || !immutable(tag) {
		exists, err := s.imageExists(ctx, repo.ID, d, tag)
		if err != nil {
			return PutManifestResult{}, err
		}
		if exists {
			return PutManifestResult{}, errorf(ErrImageExists, "Image with digest '%s' and tag '%s' already exists "+
				"in the repository with name '%s' in registry with id '%s'", d, tag, r.Name, r.AccountID)
		}
	}
	ref := d.String()
	var tags []string
	if tag != "" {
		tags = []string{tag}
	}
	return s.PutManifest(ctx, who, r, ref, mediaType, manifest, tags)
}

// imageExists reports whether d is stored, ACTIVE, and tagged tag (when
// given): an archived image put again is restored, not refused.
func (s *Service) imageExists(ctx context.Context, repoID int64, d digest.Digest, tag string) (bool, error) {
	if tag != "" {
		td, err := s.meta.ResolveTag(ctx, repoID, tag)
		if errors.Is(err, metastore.ErrNotFound) || (err == nil && td != d) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
	}
	m, err := s.meta.GetManifest(ctx, repoID, d)
	if errors.Is(err, metastore.ErrNotFound) {
		return false, nil
	}
	return err == nil && m.Status == metastore.ImageActive, err
}
