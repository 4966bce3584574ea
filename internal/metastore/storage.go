package metastore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"
)

// ImageStatus is where an image stands between ECR's two storage classes
// (ECR's ImageStatus): ACTIVE images are in the standard class and can be
// pulled; ARCHIVED images are in the archive class and cannot; ACTIVATING
// images are being restored and cannot be pulled yet.
type ImageStatus string

const (
	ImageActive     ImageStatus = "ACTIVE"
	ImageArchived   ImageStatus = "ARCHIVED"
	ImageActivating ImageStatus = "ACTIVATING"
	// ImageStatusAny is a listing filter that admits every status.
	ImageStatusAny ImageStatus = "ANY"
)

// StorageClass is ECR's storage class of an image (TargetStorageClass).
type StorageClass string

const (
	StorageStandard StorageClass = "STANDARD"
	StorageArchive  StorageClass = "ARCHIVE"
)

// StorageClass is the class an image of this status is in: an image being
// restored is still in the archive class until its restore completes.
func (s ImageStatus) StorageClass() StorageClass {
	if s == ImageActive {
		return StorageStandard
	}
	return StorageArchive
}

// ImageFilter selects images in a listing. Both fields are required:
// TagStatus one of the TagStatus values, Status one of the ImageStatus
// values or ImageStatusAny.
type ImageFilter struct {
	TagStatus TagStatus
	Status    ImageStatus
}

// ErrStorageClassUnsupported reports a storage-class change that the
// image's state does not allow.
var ErrStorageClassUnsupported = errors.New("metastore: storage class change not supported")

// StorageClassError says why a storage-class change was refused: the image
// is already in (or on its way to) the target class, or, for an archive, an
// index that is not archived still references it (Parent).
type StorageClassError struct {
	Digest digest.Digest
	Status ImageStatus  // the image's status when the change was refused
	Target StorageClass // the class asked for
	Parent digest.Digest
}

func (e *StorageClassError) Error() string {
	if e.Parent != "" {
		return fmt.Sprintf("metastore: image %s is referenced by index %s, which is not archived", e.Digest, e.Parent)
	}
	return fmt.Sprintf("metastore: image %s is %s; cannot move it to %s", e.Digest, e.Status, e.Target)
}

// Is makes errors.Is(err, ErrStorageClassUnsupported) hold.
func (e *StorageClassError) Is(target error) bool { return target == ErrStorageClassUnsupported }

// StorageChange is one image whose status a storage-class change moved:
// what an UPDATE_STORAGE_CLASS event reports.
type StorageChange struct {
	RepositoryID int64
	Digest       digest.Digest
	MediaType    string
	ArtifactType string
	Subject      digest.Digest // empty unless the image is a referrer
	From, To     ImageStatus
	At           time.Time
}

// LifecycleImage is an image as a lifecycle policy evaluates it: the image
// with its storage state, and the indexes of the repository that list it
// as a child (Parents, by digest in byte order; none for most images).
type LifecycleImage struct {
	Image
	Parents []digest.Digest
}

// StorageClassStore moves images between the standard and archive storage
// classes. Each change is one transaction, so a caller may record what it
// changed (an event) in the same transaction.
type StorageClassStore interface {
	// UpdateStorageClass archives (target StorageArchive: ACTIVE ->
	// ARCHIVED, stamping LastArchivedAt) or starts restoring (target
	// StorageStandard: ARCHIVED -> ACTIVATING) the image d of the
	// repository, with the images that go with it, and returns every
	// change made, d's first. Archiving an index also archives its
	// children that no other non-archived index lists; archiving an image
	// also archives its referrers (manifests whose subject it is), and so
	// on transitively. Restoring brings back the same closure. ErrNotFound
	// when d is not stored; a *StorageClassError (and no change) when d is
	// already in or on its way to the target class, or when archiving d
	// while an index that is not archived lists it.
	UpdateStorageClass(ctx context.Context, repoID int64, d digest.Digest, target StorageClass) ([]StorageChange, error)
	// CompleteActivations finishes up to limit (positive) restores in any
	// repository: ACTIVATING -> ACTIVE, stamping LastActivatedAt. Berth
	// keeps archived bytes where they were, so nothing else has to move.
	CompleteActivations(ctx context.Context, limit int) ([]StorageChange, error)
	// BlobArchived reports whether blob d is referenced by manifests of
	// the repository that are all not ACTIVE (at least one): ECR's layer
	// availability ARCHIVED. A blob no manifest references is not archived.
	BlobArchived(ctx context.Context, repoID int64, d digest.Digest) (bool, error)
	// LifecycleCandidates returns a page of the repository's images, every
	// status, by digest after p.Last, with tags, times, status and parent
	// indexes: what a lifecycle run evaluates. A missing repository has
	// none.
	LifecycleCandidates(ctx context.Context, repoID int64, p Page) ([]LifecycleImage, error)
}

// PullTime is one image's latest recorded pull.
type PullTime struct {
	RepositoryID int64
	Digest       digest.Digest
	At           time.Time
}

// PullTimeExclusion is an IAM principal whose pulls do not update pull
// times in one account's registry (ECR's pull time update exclusions).
type PullTimeExclusion struct {
	AccountID    string
	PrincipalARN string
	CreatedAt    time.Time
}

// ErrTooManyExclusions reports that an account would exceed its limit of
// pull time update exclusions.
var ErrTooManyExclusions = errors.New("metastore: too many pull time update exclusions")

// PullTimeStore records image pull times and the principals whose pulls do
// not count.
type PullTimeStore interface {
	// RecordPullTimes sets each image's LastPulledAt to At when the stored
	// value is older than At by more than minAdvance, in one transaction;
	// it never moves a time back, so nodes flushing in any order agree.
	// Images that no longer exist are skipped. It returns the number of
	// images updated.
	RecordPullTimes(ctx context.Context, pulls []PullTime, minAdvance time.Duration) (int, error)
	// RegisterPullTimeExclusion adds e (a zero CreatedAt is stamped with
	// the store's clock) and returns it as stored. ErrAlreadyExists when
	// the account already excludes the ARN; ErrTooManyExclusions (and no
	// change) when the account would then hold more than max; ErrNotFound
	// when the account does not exist.
	RegisterPullTimeExclusion(ctx context.Context, e PullTimeExclusion, max int) (PullTimeExclusion, error)
	// DeregisterPullTimeExclusion removes one; ErrNotFound when absent.
	DeregisterPullTimeExclusion(ctx context.Context, accountID, principalARN string) error
	// ListPullTimeExclusions returns the account's exclusions by ARN (byte
	// order) after p.Last.
	ListPullTimeExclusions(ctx context.Context, accountID string, p Page) ([]PullTimeExclusion, error)
}
