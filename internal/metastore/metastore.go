// Package metastore defines Berth's persistence port for metadata: accounts,
// access keys, repositories, blob links, manifests, tags, upload sessions,
// and the ECR control plane's images, repository and registry settings,
// policies and signing keys (ecr.go), and IAM users and policies (iam.go).
//
// Metadata lives only here (SQL), never in the blob store. Every method is a
// single transaction; multi-step invariants (a manifest and its tags and
// references) are one method so the implementation can make them atomic.
// Implementations: sqlstore (SQLite and PostgreSQL), checked by storetest.
package metastore

import (
	"context"
	"errors"
	"time"

	"github.com/opencontainers/go-digest"
)

// Sentinel errors. Implementations wrap them with %w and context.
var (
	ErrNotFound           = errors.New("metastore: not found")
	ErrAlreadyExists      = errors.New("metastore: already exists")
	ErrConflict           = errors.New("metastore: concurrent modification")
	ErrRepositoryNotEmpty = errors.New("metastore: repository not empty")
	// ErrReferenced reports a manifest still referenced by an index in the
	// same repository.
	ErrReferenced = errors.New("metastore: manifest is referenced by an index")
	// ErrUnavailable reports that the database cannot be reached or cannot
	// serve now (connection refused or lost, server restarting, locked for
	// too long): the operation did not happen, or its outcome is unknown
	// when the connection broke during commit, and may be retried later.
	ErrUnavailable = errors.New("metastore: unavailable")
)

// MissingReferenceError reports a manifest reference that does not resolve in
// the repository; Kind tells which (RefBlob or RefManifest).
type MissingReferenceError struct {
	Kind   RefKind
	Digest digest.Digest
}

func (e *MissingReferenceError) Error() string {
	return "metastore: missing " + string(e.Kind) + " " + e.Digest.String()
}

// RefKind classifies what a manifest points to.
type RefKind string

const (
	RefBlob     RefKind = "blob"     // config or layer; must be linked to the repository
	RefManifest RefKind = "manifest" // child of an index; must be a manifest in the repository
)

// Account is one registry, named by a 12-digit id.
type Account struct {
	ID        string
	CreatedAt time.Time
}

// AccessKey is an IAM-style access key. UserName is empty for the account root.
// SecretCiphertext is sealed by the caller; the store never sees plaintext.
// UserID and UserPath are read, never written: the owning IAM user's
// unique id (AIDA…) and IAM path, "" for the root's keys.
type AccessKey struct {
	ID               string
	AccountID        string
	UserName         string
	UserID           string
	UserPath         string
	SecretCiphertext []byte
	Active           bool
	CreatedAt        time.Time
}

// Repository is an ECR repository inside one account.
type Repository struct {
	ID                 int64
	AccountID          string
	Name               string
	CreatedAt          time.Time
	ImageTagMutability string // MUTABLE, IMMUTABLE, ...
	// TagMutabilityExclusions are the WILDCARD filters of the *_WITH_EXCLUSION
	// modes, in the order given.
	TagMutabilityExclusions []string
	ScanOnPush              bool
	EncryptionType          string // AES256 or KMS
	KMSKey                  string
}

// Manifest is a stored image manifest or index: the exact bytes as pushed.
type Manifest struct {
	RepositoryID int64
	Digest       digest.Digest
	MediaType    string
	ArtifactType string        // artifactType, or config media type for artifacts; may be empty
	Subject      digest.Digest // empty when the manifest has no subject
	Annotations  map[string]string
	Size         int64 // len(Body)
	Body         []byte
	// ImageSize is the compressed image size ECR reports (config+layers; for
	// an index, the largest child).
	ImageSize int64
	PushedAt  time.Time
	// Status is the image's storage state (ACTIVE when pushed); PutManifest
	// ignores it.
	Status ImageStatus
}

// PutOptions adjusts PutManifest.
type PutOptions struct {
	// Immutable reports whether a tag is immutable; nil means none is.
	Immutable func(tag string) bool
}

// ErrTagExists reports an immutable tag that already exists.
var ErrTagExists = errors.New("metastore: immutable tag exists")

// TagExistsError names the immutable tag that blocked a push.
type TagExistsError struct {
	Tag    string
	Digest digest.Digest // what the tag points to
}

func (e *TagExistsError) Error() string { return "metastore: immutable tag " + e.Tag + " exists" }

// Is makes errors.Is(err, ErrTagExists) hold.
func (e *TagExistsError) Is(target error) bool { return target == ErrTagExists }

// Reference is one descriptor a manifest points to.
type Reference struct {
	Kind   RefKind
	Digest digest.Digest
}

// Tag names a manifest inside a repository.
type Tag struct {
	Name      string
	Digest    digest.Digest
	UpdatedAt time.Time
}

// Upload is a resumable blob upload session.
type Upload struct {
	ID           string // random UUID; the only handle clients see
	RepositoryID int64
	Offset       int64  // bytes received and persisted
	HashState    []byte // marshalled hash.Hash state after Offset bytes
	Algorithm    string // digest algorithm being computed ("sha256", "sha512")
	StoreState   []byte // blobstore.UploadState
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// Part bookkeeping for ECR's layer-part rules, computed by the caller.
	Parts        int   // appends recorded
	LastPartSize int64 // size of the last recorded append
	SmallPart    bool  // a part other than the last was below the minimum
}

// Page bounds a listing: entries strictly after Last (in byte order), at
// most Limit of them. Limit must be positive: listings are always bounded and
// implementations reject Limit <= 0 with an error.
type Page struct {
	Last  string
	Limit int
}

// AccountStore persists accounts and access keys. Create methods set a zero
// CreatedAt to the store's clock; CreateAccessKey returns ErrNotFound when the
// account does not exist. ListAccessKeys returns one principal's keys
// (userName "" = the account root) in creation order; SetAccessKeyActive and
// DeleteAccessKey return ErrNotFound for an unknown key.
type AccountStore interface {
	CreateAccount(ctx context.Context, a Account) error
	GetAccount(ctx context.Context, id string) (Account, error)
	ListAccounts(ctx context.Context) ([]Account, error)
	CreateAccessKey(ctx context.Context, k AccessKey) error
	GetAccessKey(ctx context.Context, id string) (AccessKey, error)
	ListAccessKeys(ctx context.Context, accountID, userName string) ([]AccessKey, error)
	SetAccessKeyActive(ctx context.Context, id string, active bool) error
	DeleteAccessKey(ctx context.Context, id string) error
}

// RepositoryStore persists repositories.
type RepositoryStore interface {
	// CreateRepository fills in ID; ErrAlreadyExists when the name is taken.
	// The store always assigns ID (never reusing a deleted repository's) and
	// sets a zero CreatedAt; ErrNotFound when the account does not exist.
	CreateRepository(ctx context.Context, r *Repository) error
	GetRepository(ctx context.Context, accountID, name string) (Repository, error)
	// ListRepositories returns names in byte order after p.Last.
	ListRepositories(ctx context.Context, accountID string, p Page) ([]Repository, error)
	// DeleteRepository removes the repository and, when force, its images;
	// without force, ErrRepositoryNotEmpty if it holds any manifest.
	DeleteRepository(ctx context.Context, id int64, force bool) error
}

// BlobIndex records which blobs exist and which repositories they belong to.
type BlobIndex interface {
	// LinkBlob records that d (of size) is committed and belongs to repo,
	// and sets the link's time to now. Idempotent; an error (not a
	// sentinel) when size differs from the size already recorded for d;
	// ErrNotFound when the repository does not exist; ErrBlobDeleting when
	// garbage collection is deleting d.
	//
	// When d has no record yet, stored is asked, inside the transaction,
	// whether the blob store holds d's bytes; if not (garbage collection
	// deleted them after the caller stored them), ErrBlobDeleting and
	// nothing is written. This makes "every link points at stored bytes"
	// hold against a concurrent collection. stored may be nil only where
	// no collection runs against these blobs (tests, fixtures).
	LinkBlob(ctx context.Context, repoID int64, d digest.Digest, size int64, stored BlobStored) error
	// BlobSize returns the size of d if it is linked to repo, else ErrNotFound.
	BlobSize(ctx context.Context, repoID int64, d digest.Digest) (int64, error)
	// UnlinkBlob removes the link; ErrNotFound when there was none.
	UnlinkBlob(ctx context.Context, repoID int64, d digest.Digest) error
	// BlobHolders names up to limit repositories of the account that link
	// d, in byte order (none: an empty list). A mount without a source
	// repository uses it to find one the caller may read.
	BlobHolders(ctx context.Context, accountID string, d digest.Digest, limit int) ([]string, error)
}

// ManifestStore persists manifests, tags and the referrers relation.
type ManifestStore interface {
	// PutManifest stores m with its references and points tags at it, in one
	// transaction. Every reference must resolve in the repository, else a
	// *MissingReferenceError. Re-putting an existing digest keeps the first
	// PushedAt and moves the tags. Pushing restores at once (ACTIVE,
	// LastActivatedAt stamped) an archived or restoring m with what goes
	// with it (as StorageClassStore restores), and the children of an
	// index m that are not ACTIVE.
	// On a re-put the stored row (PushedAt, body, annotations) is kept as is;
	// each tag's UpdatedAt is set to now; a zero PushedAt defaults to now;
	// ErrNotFound when the repository does not exist. A tag that
	// opts.Immutable reports as immutable may not exist yet, not even
	// pointing at m: *TagExistsError and no change. The check runs inside
	// the transaction, so of concurrent pushes to one new immutable tag
	// exactly one succeeds.
	PutManifest(ctx context.Context, m Manifest, refs []Reference, tags []string, opts PutOptions) error
	GetManifest(ctx context.Context, repoID int64, d digest.Digest) (Manifest, error)
	// ResolveTag returns the digest a tag points to, or ErrNotFound.
	ResolveTag(ctx context.Context, repoID int64, tag string) (digest.Digest, error)
	// GetManifestByTag is ResolveTag followed by GetManifest in one query.
	GetManifestByTag(ctx context.Context, repoID int64, tag string) (Manifest, error)
	// DeleteManifest removes a manifest and every tag pointing to it;
	// ErrReferenced when an index in the repository still points to it.
	DeleteManifest(ctx context.Context, repoID int64, d digest.Digest) error
	// DeleteTag removes one tag; the manifest stays.
	DeleteTag(ctx context.Context, repoID int64, tag string) error
	// ListTags returns tags in byte order after p.Last (none, not an error,
	// for an unknown repository).
	ListTags(ctx context.Context, repoID int64, p Page) ([]Tag, error)
	// Referrers returns manifests whose subject is d, ordered by digest,
	// after p.Last (a digest), at most p.Limit, optionally only those of
	// artifactType. d need not be stored.
	Referrers(ctx context.Context, repoID int64, d digest.Digest, artifactType string, p Page) ([]Manifest, error)
}

// UploadStore persists upload sessions.
type UploadStore interface {
	CreateUpload(ctx context.Context, u Upload) error
	GetUpload(ctx context.Context, repoID int64, id string) (Upload, error)
	// UpdateUpload stores u if the stored Offset is still prevOffset, else
	// ErrConflict (another writer advanced it), or ErrNotFound when the
	// session is gone. It writes Offset, HashState and StoreState and stamps
	// UpdatedAt with the store's clock (u.UpdatedAt is ignored).
	UpdateUpload(ctx context.Context, u Upload, prevOffset int64) error
	DeleteUpload(ctx context.Context, id string) error
	// FinishUpload links blob d (of size) to the repository, as LinkBlob
	// does (stored likewise), and deletes the upload session in one
	// transaction, so a completed upload costs one commit. A session
	// already gone is not an error.
	FinishUpload(ctx context.Context, id string, repoID int64, d digest.Digest, size int64, stored BlobStored) error
	// ExpiredUploads lists uploads not updated since before, at most limit
	// (positive), oldest first. CreateUpload sets zero CreatedAt/UpdatedAt to
	// the store's clock; DeleteUpload of a missing session is not an error.
	ExpiredUploads(ctx context.Context, before time.Time, limit int) ([]Upload, error)
	// UploadStats counts the open upload sessions of every repository and
	// the bytes they have received so far.
	UploadStats(ctx context.Context) (UploadStats, error)
}

// UploadStats summarizes the open upload sessions.
type UploadStats struct {
	Open  int64 // sessions
	Bytes int64 // the sum of their offsets
}

// Store is the whole metadata port.
type Store interface {
	AccountStore
	RepositoryStore
	BlobIndex
	ManifestStore
	UploadStore
	ImageStore
	StorageClassStore
	PullTimeStore
	RepositorySettingsStore
	RegistrySettingsStore
	SigningKeyStore
	IAMStore
	JobStore
	JobRunHistory
	ClusterStore
	GCStore
	EventOutbox
	EventSinkStore
	LifecycleStore
	LifecyclePreviewStore
	AuditStore
	// Ping checks the database is reachable.
	Ping(ctx context.Context) error
	Close() error
}
