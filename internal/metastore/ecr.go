package metastore

import (
	"context"
	"errors"
	"time"

	"github.com/opencontainers/go-digest"
)

// ErrTooManyTags reports that a resource would exceed its tag limit.
var ErrTooManyTags = errors.New("metastore: too many tags")

// ResourceTag is an AWS resource tag on a repository.
type ResourceTag struct {
	Key   string
	Value string
}

// Image is a manifest of a repository with the tags that point to it, as
// ECR's DescribeImages and ListImages see it. Body is not loaded.
type Image struct {
	Digest       digest.Digest
	MediaType    string
	ArtifactType string
	Subject      digest.Digest
	Size         int64 // manifest size
	ImageSize    int64 // ECR imageSizeInBytes
	PushedAt     time.Time
	Tags         []string // sorted
	// Status is the storage state; the times are zero until the image is
	// first pulled, archived or restored (LastPulledAt as recorded by
	// RecordPullTimes).
	Status          ImageStatus
	LastPulledAt    time.Time
	LastArchivedAt  time.Time
	LastActivatedAt time.Time
}

// TagStatus filters images by whether they carry tags.
type TagStatus string

const (
	TagStatusAny      TagStatus = "ANY"
	TagStatusTagged   TagStatus = "TAGGED"
	TagStatusUntagged TagStatus = "UNTAGGED"
)

// SigningKey is a server secret that signs registry passwords and layer
// download URLs. SecretCiphertext is sealed by the caller.
type SigningKey struct {
	ID               string
	SecretCiphertext []byte
	CreatedAt        time.Time
}

// ImageStore lists and describes images.
type ImageStore interface {
	// ListImages returns images of a repository ordered by digest, strictly
	// after p.Last (a digest), filtered by tag status and image status.
	// f.TagStatus must be TagStatusAny, TagStatusTagged or
	// TagStatusUntagged, f.Status an ImageStatus or ImageStatusAny
	// (anything else, including "", is an error); a missing repository has
	// no images.
	ListImages(ctx context.Context, repoID int64, f ImageFilter, p Page) ([]Image, error)
	// GetImages returns the images with the given digests that exist,
	// whatever their status, in the order given, skipping missing ones; a
	// digest given twice is returned once, at its first position.
	GetImages(ctx context.Context, repoID int64, digests []digest.Digest) ([]Image, error)
}

// RepositorySettingsStore changes repository settings, resource tags and
// policies. Policy texts are stored verbatim (validated by the caller).
// Every method returns ErrNotFound when the repository does not exist.
type RepositorySettingsStore interface {
	// UpdateRepositorySettings stores ImageTagMutability and ScanOnPush of r
	// (by r.ID); ErrNotFound when the repository is gone.
	UpdateRepositorySettings(ctx context.Context, r Repository) error
	// ListResourceTags returns a repository's tags ordered by key (byte
	// order).
	ListResourceTags(ctx context.Context, repoID int64) ([]ResourceTag, error)
	// TagResource upserts tags; ErrTooManyTags (and no change) when the
	// repository would then carry more than max tags.
	TagResource(ctx context.Context, repoID int64, tags []ResourceTag, max int) error
	// UntagResource removes the keys; absent keys are ignored.
	UntagResource(ctx context.Context, repoID int64, keys []string) error
	// GetRepositoryPolicy returns the policy text or ErrNotFound.
	// SetRepositoryPolicy replaces any previous policy.
	GetRepositoryPolicy(ctx context.Context, repoID int64) (string, error)
	SetRepositoryPolicy(ctx context.Context, repoID int64, text string) error
	// DeleteRepositoryPolicy returns the deleted text, or ErrNotFound.
	DeleteRepositoryPolicy(ctx context.Context, repoID int64) (string, error)
}

// RegistrySettingsStore holds per-account registry settings. Put methods
// replace any previous value and return ErrNotFound when the account does
// not exist.
type RegistrySettingsStore interface {
	// GetRegistryPolicy returns the policy text or ErrNotFound.
	GetRegistryPolicy(ctx context.Context, accountID string) (string, error)
	PutRegistryPolicy(ctx context.Context, accountID, text string) error
	// DeleteRegistryPolicy returns the deleted text, or ErrNotFound.
	DeleteRegistryPolicy(ctx context.Context, accountID string) (string, error)
	// GetAccountSetting returns a setting's value or ErrNotFound.
	GetAccountSetting(ctx context.Context, accountID, name string) (string, error)
	PutAccountSetting(ctx context.Context, accountID, name, value string) error
}

// SigningKeyStore holds the shared signing keys, so any node can verify
// what another signed.
type SigningKeyStore interface {
	// CreateSigningKey sets a zero CreatedAt to the store's clock;
	// ErrAlreadyExists when the id is taken.
	CreateSigningKey(ctx context.Context, k SigningKey) error
	// ListSigningKeys returns all keys, newest first (equal CreatedAt by
	// descending ID).
	ListSigningKeys(ctx context.Context) ([]SigningKey, error)
	// DeleteSigningKeysBefore removes keys created strictly before t.
	DeleteSigningKeysBefore(ctx context.Context, t time.Time) error
}
