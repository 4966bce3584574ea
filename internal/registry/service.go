// Package registry is the service layer every front end shares: push, pull,
// delete, list, uploads and referrers. It validates input, authorizes every
// action before doing any work, and keeps the metadata store and the blob
// store consistent. It knows nothing of HTTP.
package registry

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync"
	"time"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/blobstore"
	"github.com/berth-registry/berth/internal/metastore"
	"github.com/berth-registry/berth/internal/oci"
)

// Options configures a Service. Meta, Blobs and Authorizer are required.
type Options struct {
	Meta       metastore.Store
	Blobs      blobstore.Store
	Authorizer Authorizer
	Logger     *slog.Logger
	Clock      func() time.Time
	// Partition and Region build ARNs.
	Partition string
	Region    string
	// CreateOnPush creates a missing repository on first push.
	CreateOnPush bool
	// UploadExpiry is the idle time after which an upload is removed.
	UploadExpiry time.Duration
	// MaxBlobSize bounds one blob (ECR: 52,000 MiB).
	MaxBlobSize int64
	// GCGrace is garbage collection's grace period: links no manifest
	// references go once older than it. Existence checks refresh a link
	// older than half of it. Zero: links are never refreshed.
	GCGrace time.Duration
	// RepositoryCacheTTL is how long read paths trust a repository they
	// looked up; zero disables the cache.
	RepositoryCacheTTL time.Duration
	// Metrics records upload expiry; nil records nothing.
	Metrics *Metrics
	// BlobRedirects lets blob downloads (/v2 GET, GetDownloadUrlForLayer)
	// hand out a URL from which the backend serves the bytes itself
	// (presigned S3 GET) when the backend can; off, bytes flow through
	// Berth.
	BlobRedirects bool
	// PullTimes buffers pull times (lastRecordedPullTime); nil records
	// none. The caller runs and flushes it.
	PullTimes *PullTimes
	// RestoreRequested, when set, is called after a restore from the
	// archive storage class was requested, to have CompleteRestores run
	// soon (the image-restore job).
	RestoreRequested func(ctx context.Context)
	// LifecyclePolicyChanged, when set, is called after a lifecycle policy
	// was put, to have the lifecycle job run soon.
	LifecyclePolicyChanged func(ctx context.Context)
	// LifecyclePreviewStarted, when set, is called after a lifecycle
	// policy preview was started, to have the lifecycle-preview job run now.
	LifecyclePreviewStarted func(ctx context.Context)
}

// DefaultMaxBlobSize is ECR's maximum layer size.
const DefaultMaxBlobSize = 52000 << 20

// Service implements the registry operations.
type Service struct {
	meta   metastore.Store
	blobs  blobstore.Store
	authz  Authorizer
	log    *slog.Logger
	now    func() time.Time
	opts   Options
	uplock stripedLock
	repos  *repoCache
}

// New builds a Service.
func New(o Options) (*Service, error) {
	if o.Meta == nil || o.Blobs == nil || o.Authorizer == nil {
		return nil, errors.New("registry: Meta, Blobs and Authorizer are required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Partition == "" {
		o.Partition = "aws"
	}
	if o.UploadExpiry <= 0 {
		o.UploadExpiry = 24 * time.Hour
	}
	if o.MaxBlobSize <= 0 {
		o.MaxBlobSize = DefaultMaxBlobSize
	}
	return &Service{meta: o.Meta, blobs: o.Blobs, authz: o.Authorizer, log: o.Logger, now: o.Clock, opts: o,
		repos: &repoCache{ttl: o.RepositoryCacheTTL, now: o.Clock, max: 10000}}, nil
}

// RepoRef names a repository: an account and a repository name.
type RepoRef struct {
	AccountID string
	Name      string
}

// ARN is the repository's ARN.
func (s *Service) ARN(r RepoRef) string {
	return fmt.Sprintf("arn:%s:ecr:%s:%s:repository/%s", s.opts.Partition, s.opts.Region, r.AccountID, r.Name)
}

// authorize asks the Authorizer whether who may perform action on r.
func (s *Service) authorize(ctx context.Context, who auth.Principal, action string, r RepoRef) error {
	return s.authz.Authorize(ctx, AccessRequest{
		Principal: who, Action: action, Resource: s.ARN(r), ResourceAccount: r.AccountID,
	})
}

// validateName rejects malformed names before any lookup.
func validateName(r RepoRef) error {
	if err := oci.ValidateRepositoryName(r.Name); err != nil {
		return &Error{Kind: ErrNameInvalid, Message: err.Error(), Detail: map[string]string{"name": r.Name}}
	}
	return nil
}

// repository authorizes action on r and returns the repository. With
// create, a missing repository is created when CreateOnPush is on (and the
// caller may create repositories).
func (s *Service) repository(ctx context.Context, who auth.Principal, action string, r RepoRef, create bool) (metastore.Repository, error) {
	if err := validateName(r); err != nil {
		return metastore.Repository{}, err
	}
	if err := s.authorize(ctx, who, action, r); err != nil {
		return metastore.Repository{}, err
	}
	cacheable := readActions[action] && !create
	if cacheable {
		if repo, ok := s.repos.get(r); ok {
			return repo, nil
		}
	}
	repo, err := s.meta.GetRepository(ctx, r.AccountID, r.Name)
	if err == nil {
		if cacheable {
			s.repos.put(r, repo)
		}
		return repo, nil
	}
	if !errors.Is(err, metastore.ErrNotFound) {
		return metastore.Repository{}, fmt.Errorf("get repository: %w", err)
	}
	if !create || !s.opts.CreateOnPush {
		return metastore.Repository{}, s.nameUnknown(r, create)
	}
	if err := s.authorize(ctx, who, ActionCreateRepository, r); err != nil {
		return metastore.Repository{}, err
	}
	repo = metastore.Repository{
		AccountID: r.AccountID, Name: r.Name, CreatedAt: s.now(),
		ImageTagMutability: "MUTABLE", EncryptionType: "AES256",
	}
	err = s.meta.CreateRepository(ctx, &repo)
	if errors.Is(err, metastore.ErrAlreadyExists) { // lost a race with another push
		return s.meta.GetRepository(ctx, r.AccountID, r.Name)
	}
	if err != nil {
		return metastore.Repository{}, fmt.Errorf("create repository on push: %w", err)
	}
	s.log.InfoContext(ctx, "repository created on push", "account", r.AccountID, "repository", r.Name)
	return repo, nil
}

// pushTarget finds the repository a push goes to without creating it:
// found, or missing but creatable on push (exists false, no error), or
// NAME_UNKNOWN with the hint for creating it.
func (s *Service) pushTarget(ctx context.Context, who auth.Principal, action string, r RepoRef) (metastore.Repository, bool, error) {
	repo, err := s.repository(ctx, who, action, r, false)
	switch {
	case err == nil:
		return repo, true, nil
	case errors.Is(err, ErrNameUnknown) && s.opts.CreateOnPush:
		return repo, false, nil
	case errors.Is(err, ErrNameUnknown):
		return repo, false, s.nameUnknown(r, true)
	}
	return repo, false, err
}

func (s *Service) nameUnknown(r RepoRef, push bool) error {
	msg := fmt.Sprintf("The repository with name '%s' does not exist in the registry with id '%s'", r.Name, r.AccountID)
	if push {
		msg += fmt.Sprintf(". Create it first (aws ecr create-repository --repository-name %s) "+
			"or enable createOnPush", r.Name)
	}
	return &Error{Kind: ErrNameUnknown, Message: msg, Detail: map[string]string{"name": r.Name}}
}

// stripedLock serializes work on one upload within this process; the
// store's compare-and-swap on the offset guards across processes.
type stripedLock struct {
	seed  maphash.Seed
	once  sync.Once
	locks [256]sync.Mutex
}

func (l *stripedLock) lock(key string) func() {
	l.once.Do(func() { l.seed = maphash.MakeSeed() })
	m := &l.locks[maphash.String(l.seed, key)%uint64(len(l.locks))]
	m.Lock()
	return m.Unlock
}
