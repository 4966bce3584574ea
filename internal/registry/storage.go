package registry

import (
	"context"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/metastore"
)

// Archive storage class (ECR's UpdateImageStorageClass).
//
// Berth keeps an archived image's manifest and blobs where they were: the
// archive class is a state, not another place, so archiving and restoring
// move no data and a restore could complete at once. It still passes
// through ACTIVATING, as ECR's clients and waiters expect, completed by the
// image-restore background job, which a restore request triggers.

// ActionUpdateImageStorageClass is the IAM action of archive and restore.
const ActionUpdateImageStorageClass = "ecr:UpdateImageStorageClass"

// restoreBatch is how many restores one CompleteActivations call finishes.
const restoreBatch = 1000

// UpdateImageStorageClass archives (target StorageArchive) or starts
// restoring (StorageStandard) the image id names, with the images that go
// with it (an index's children only it lists, referrers), and returns the
// image's id (digest, and the tag it was named by) and new status.
func (s *Service) UpdateImageStorageClass(ctx context.Context, who auth.Principal, r RepoRef, id ImageID, target StorageClass) (ImageID, ImageStatus, error) {
	if target != StorageArchive && target != StorageStandard {
		return ImageID{}, "", errorf(ErrInvalidParameter, "targetStorageClass must be STANDARD or ARCHIVE, not %q", target)
	}
	repo, err := s.repository(ctx, who, ActionUpdateImageStorageClass, r, false)
	if err != nil {
		return ImageID{}, "", err
	}
	d, f := s.resolve(ctx, repo.ID, id)
	if f != nil {
		return ImageID{}, "", imageIDError(r, id, f)
	}
	changes, err := s.meta.UpdateStorageClass(ctx, repo.ID, d, target)
	var se *metastore.StorageClassError
	switch {
	case errors.Is(err, metastore.ErrNotFound):
		return ImageID{}, "", imageNotFound(r, ImageID{Digest: d.String(), Tag: id.Tag})
	case errors.As(err, &se):
		return ImageID{}, "", storageClassRefused(se)
	case err != nil:
		return ImageID{}, "", fmt.Errorf("update storage class: %w", err)
	}
	s.log.InfoContext(ctx, "image storage class changed", "account", r.AccountID, "repository", r.Name,
		"digest", d, "target", target, "status", changes[0].To, "images", len(changes))
	if target == StorageStandard && s.opts.RestoreRequested != nil {
		s.opts.RestoreRequested(ctx)
	}
	return ImageID{Digest: d.String(), Tag: id.Tag}, changes[0].To, nil
}

// imageIDError turns a failure to resolve an ImageID into ECR's errors:
// a malformed id is an invalid parameter, anything else a missing image.
func imageIDError(r RepoRef, id ImageID, f *ImageFailure) error {
	switch f.Code {
	case FailureMissingDigestAndTag, FailureInvalidImageDigest, FailureInvalidImageTag:
		return errorf(ErrInvalidParameter, "Invalid parameter at 'imageId' failed to satisfy constraint: '%s'", f.Reason)
	}
	return imageNotFound(r, id)
}

func imageNotFound(r RepoRef, id ImageID) error {
	return &Error{Kind: ErrManifestUnknown, Message: fmt.Sprintf("The image with imageId {imageDigest:'%s', imageTag:'%s'} "+
		"does not exist within the repository with name '%s' in the registry with id '%s'", id.Digest, id.Tag, r.Name, r.AccountID)}
}

func storageClassRefused(se *metastore.StorageClassError) error {
	var msg string
	switch {
	case se.Parent != "":
		msg = fmt.Sprintf("The image '%s' is referenced by the image index '%s', which is not archived; archive the index "+
			"first (archiving an index also archives the images only it references)", se.Digest, se.Parent)
	case se.Status == metastore.ImageActivating && se.Target == metastore.StorageStandard:
		msg = fmt.Sprintf("The image '%s' is already being restored (imageStatus ACTIVATING)", se.Digest)
	case se.Status == metastore.ImageActivating:
		msg = fmt.Sprintf("The image '%s' is being restored (imageStatus ACTIVATING); archive it once it is ACTIVE", se.Digest)
	case se.Target == metastore.StorageArchive:
		msg = fmt.Sprintf("The image '%s' is already archived (imageStatus %s)", se.Digest, se.Status)
	default:
		msg = fmt.Sprintf("The image '%s' is already in the STANDARD storage class (imageStatus %s)", se.Digest, se.Status)
	}
	return &Error{Kind: ErrStorageClassUnsupported, Message: msg,
		Detail: map[string]string{"digest": se.Digest.String(), "imageStatus": string(se.Status)}}
}

// CompleteRestores finishes every pending restore (ACTIVATING -> ACTIVE)
// in the deployment and returns how many images it made pullable again:
// the image-restore job.
func (s *Service) CompleteRestores(ctx context.Context) (int, error) {
	total := 0
	for {
		done, err := s.meta.CompleteActivations(ctx, restoreBatch)
		total += len(done)
		if err != nil {
			return total, fmt.Errorf("complete restores: %w", err)
		}
		if len(done) < restoreBatch {
			return total, nil
		}
	}
}

// archivedError refuses a pull of an image that is not ACTIVE: 404 on /v2
// (MANIFEST_UNKNOWN, as ECR), with a message that says what to do.
func archivedError(who auth.Principal, r RepoRef, reference string, m metastore.Manifest) error {
	image := reference
	if reference != m.Digest.String() {
		image += " (" + m.Digest.String() + ")"
	}
	var msg string
	if m.Status == metastore.ImageActivating {
		msg = fmt.Sprintf("Requested image %s is being restored from the archive (imageStatus ACTIVATING); "+
			"it can be pulled once its status is ACTIVE", image)
	} else {
		registryID := ""
		if r.AccountID != who.AccountID {
			registryID = " --registry-id " + r.AccountID
		}
		msg = fmt.Sprintf("Requested image %s is archived; restore it with `aws ecr update-image-storage-class%s "+
			"--repository-name %s --image-id imageDigest=%s --target-storage-class STANDARD` or push it again",
			image, registryID, r.Name, m.Digest)
	}
	return &Error{Kind: ErrImageArchived, Message: msg,
		Detail: map[string]string{"reference": reference, "digest": m.Digest.String(), "imageStatus": string(m.Status)}}
}

// recordPull notes a pull of image d for lastRecordedPullTime.
func (s *Service) recordPull(who auth.Principal, repo metastore.Repository, d digest.Digest) {
	s.opts.PullTimes.Record(repo.AccountID, repo.ID, d, who, s.now())
}
