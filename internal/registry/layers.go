package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/metastore"
	"github.com/berth-registry/berth/internal/oci"
)

// Layer failure codes (ECR's LayerFailureCode).
const (
	FailureInvalidLayerDigest = "InvalidLayerDigest"
	FailureMissingLayerDigest = "MissingLayerDigest"
)

// LayerInfo is one layer's availability.
type LayerInfo struct {
	Digest  string
	Size    int64
	Failure string // empty when the layer is a blob of the repository
	// Archived: only images that are archived or being restored use the
	// layer (ECR's layer availability ARCHIVED). Its bytes are still
	// served: blobs are shared and Berth never moves archived ones.
	Archived bool
}

// CheckLayers reports which digests are blobs of the repository, and which
// of those only archived images use.
func (s *Service) CheckLayers(ctx context.Context, who auth.Principal, r RepoRef, digests []string) ([]LayerInfo, error) {
	repo, err := s.repository(ctx, who, ActionBatchCheckLayerAvailability, r, false)
	if err != nil {
		return nil, err
	}
	out := make([]LayerInfo, 0, len(digests))
	for _, ds := range digests {
		d, err := oci.ParseDigest(ds)
		if err != nil {
			out = append(out, LayerInfo{Digest: ds, Failure: FailureInvalidLayerDigest})
			continue
		}
		size, err := s.assertedBlob(ctx, repo.ID, d)
		switch {
		case errors.Is(err, metastore.ErrNotFound):
			out = append(out, LayerInfo{Digest: ds, Failure: FailureMissingLayerDigest})
		case err != nil:
			return nil, fmt.Errorf("look up layer: %w", err)
		default:
			archived, err := s.meta.BlobArchived(ctx, repo.ID, d)
			if err != nil {
				return nil, fmt.Errorf("look up layer use: %w", err)
			}
			out = append(out, LayerInfo{Digest: ds, Size: size, Archived: archived})
		}
	}
	return out, nil
}

// UploadLayerPart appends one API part; first and last are its inclusive
// byte range, which must continue the upload exactly.
func (s *Service) UploadLayerPart(ctx context.Context, who auth.Principal, r RepoRef, id string, first, last int64, part []byte) (UploadStatus, error) {
	if last-first+1 != int64(len(part)) {
		st, err := s.GetUpload(ctx, who, r, id)
		if err != nil {
			return st, err
		}
		return st, errorf(ErrRangeInvalid, "partFirstByte %d and partLastByte %d do not match the %d bytes of layerPartBlob",
			first, last, len(part))
	}
	return s.AppendUpload(ctx, who, r, id, first, int64(len(part)), bytes.NewReader(part))
}

// CompleteLayerUpload finishes an API upload: an empty upload and a layer
// the repository already has are errors, as in ECR.
func (s *Service) CompleteLayerUpload(ctx context.Context, who auth.Principal, r RepoRef, id, dgst string) (digest.Digest, error) {
	d, err := parseDigest(dgst)
	if err != nil {
		return "", err
	}
	u, err := s.upload(ctx, who, ActionCompleteLayerUpload, r, id)
	if err != nil {
		return "", err
	}
	if u.Offset == 0 {
		return "", errorf(ErrEmptyUpload, "The upload with id '%s' has no layer parts", id)
	}
	if u.SmallPart {
		return "", errorf(ErrLayerPartTooSmall, "Layer part size must be at least %d bytes for every part but the last; "+
			"upload '%s' has a smaller one", MinLayerPartSize, id)
	}
	if _, err := s.assertedBlob(ctx, u.RepositoryID, d); err == nil {
		s.discardUpload(ctx, u)
		return "", errorf(ErrLayerExists, "The layer '%s' already exists in the repository with name '%s' in registry with id '%s'",
			d, r.Name, r.AccountID)
	}
	return s.CompleteUpload(ctx, who, r, id, dgst, -1, 0, nil)
}

// LayerDownload authorizes a layer download and returns its size and, when
// BlobRedirects is on and the backend serves bytes itself, a URL.
func (s *Service) LayerDownload(ctx context.Context, who auth.Principal, r RepoRef, dgst string) (digest.Digest, int64, string, error) {
	d, size, err := s.blobSize(ctx, who, ActionGetDownloadURLForLayer, r, dgst, false)
	if err != nil {
		return "", 0, "", err
	}
	u, _, err := s.redirectURL(ctx, d)
	if err != nil {
		return "", 0, "", err
	}
	return d, size, u, nil
}

// OpenPresignedBlob opens a blob for a download URL that the server signed
// after authorizing it (LayerDownload). The signature is the authorization:
// only the signed-URL handler may call this.
func (s *Service) OpenPresignedBlob(ctx context.Context, r RepoRef, d digest.Digest) (BlobContent, error) {
	repo, err := s.meta.GetRepository(ctx, r.AccountID, r.Name)
	if errors.Is(err, metastore.ErrNotFound) {
		return BlobContent{}, s.nameUnknown(r, false)
	}
	if err != nil {
		return BlobContent{}, err
	}
	size, err := s.meta.BlobSize(ctx, repo.ID, d)
	if errors.Is(err, metastore.ErrNotFound) {
		return BlobContent{}, errorf(ErrBlobUnknown, "blob %s not found in repository %s", d, r.Name)
	}
	if err != nil {
		return BlobContent{}, err
	}
	b, err := s.blobs.Open(ctx, d)
	if err != nil {
		return BlobContent{}, fmt.Errorf("open blob: %w", err)
	}
	return BlobContent{Digest: d, Size: size, Body: b}, nil
}
