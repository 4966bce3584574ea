package metastore

import (
	"context"
	"time"

	"github.com/opencontainers/go-digest"
)

// LifecyclePolicy is a repository's lifecycle policy (PutLifecyclePolicy).
type LifecyclePolicy struct {
	RepositoryID int64
	// AccountID and RepositoryName are filled in by ListLifecyclePolicies.
	AccountID      string
	RepositoryName string
	// Text is the policy JSON exactly as put (validated by the caller).
	Text string
	// PolicyID names this put (a UUID given by the caller); Version counts
	// the puts of the repository's policy, 1 for the first.
	PolicyID string
	Version  int64
	// UpdatedAt is the last put; LastEvaluatedAt the last run under this
	// policy, zero when it has never run.
	UpdatedAt       time.Time
	LastEvaluatedAt time.Time
}

// Lifecycle preview statuses (ECR's LifecyclePolicyPreviewStatus).
const (
	PreviewInProgress = "IN_PROGRESS"
	PreviewComplete   = "COMPLETE"
	PreviewExpired    = "EXPIRED"
	PreviewFailed     = "FAILED"
)

// LifecyclePreview is the latest preview of a repository's lifecycle policy.
type LifecyclePreview struct {
	RepositoryID int64
	// Generation counts the previews started in the repository; it names
	// this one to FinishLifecyclePreview.
	Generation int64
	Status     string // a Preview* status
	PolicyText string
	// ExpiringCount and TransitioningCount are the summary (images the
	// policy would expire, and archive); zero until COMPLETE.
	ExpiringCount      int
	TransitioningCount int
	// Failure says why a FAILED preview failed.
	Failure    string
	CreatedAt  time.Time
	FinishedAt time.Time // zero until COMPLETE or FAILED
}

// LifecyclePreviewResult is one image a preview would act on (ECR's
// LifecyclePolicyPreviewResult).
type LifecyclePreviewResult struct {
	// Position is the 1-based place in the evaluator's decision order,
	// assigned by FinishLifecyclePreview in the order given.
	Position int64
	Digest   digest.Digest
	Tags     []string // at evaluation; none when untagged
	PushedAt time.Time
	// Action is "EXPIRE" or "TRANSITION"; TargetStorageClass "ARCHIVE" for
	// a transition, "" for an expiry.
	Action             string
	TargetStorageClass string
	RulePriority       int
	// StorageClass is the image's class at evaluation: STANDARD or ARCHIVE.
	StorageClass StorageClass
}

// PreviewResultFilter selects preview results: by tag status (TagStatusAny,
// TagStatusTagged or TagStatusUntagged; "" means any) and, when Digests is
// not empty, only those images.
type PreviewResultFilter struct {
	TagStatus TagStatus
	Digests   []digest.Digest
}

// LifecycleAction is what a lifecycle run does to one image.
type LifecycleAction string

// Lifecycle actions.
const (
	LifecycleExpire  LifecycleAction = "EXPIRE"
	LifecycleArchive LifecycleAction = "ARCHIVE"
)

// LifecycleStore persists lifecycle policies and carries out the runs'
// decisions. Every method taking a repository returns ErrNotFound when the
// repository does not exist.
type LifecycleStore interface {
	// PutLifecyclePolicy stores p.Text under p.PolicyID as the repository's
	// policy, replacing any: Version becomes the previous one plus one (1
	// for the first), UpdatedAt the store's clock, LastEvaluatedAt zero
	// (the new policy has not run). It returns the policy as stored.
	PutLifecyclePolicy(ctx context.Context, p LifecyclePolicy) (LifecyclePolicy, error)
	// GetLifecyclePolicy returns the policy, or ErrNotFound.
	GetLifecyclePolicy(ctx context.Context, repoID int64) (LifecyclePolicy, error)
	// DeleteLifecyclePolicy removes the policy and returns it, or ErrNotFound.
	DeleteLifecyclePolicy(ctx context.Context, repoID int64) (LifecyclePolicy, error)
	// ListLifecyclePolicies returns up to limit (positive) policies of every
	// account by repository id after afterRepoID, with AccountID and
	// RepositoryName: the lifecycle job's work list.
	ListLifecyclePolicies(ctx context.Context, afterRepoID int64, limit int) ([]LifecyclePolicy, error)
	// MarkLifecycleEvaluated sets LastEvaluatedAt to at if the repository's
	// policy is still policyID; ErrNotFound otherwise (deleted or replaced
	// during the run).
	MarkLifecycleEvaluated(ctx context.Context, repoID int64, policyID string, at time.Time) error
	// ApplyLifecycleAction expires (deletes, as DeleteManifest, with its
	// DELETE events) or archives (as UpdateStorageClass to StorageArchive,
	// with what goes with it and its UPDATE_STORAGE_CLASS events) the image
	// want describes, in one transaction, only if the image is still as
	// want saw it: same status, tags, push, pull and restore times. If it
	// changed (re-tagged, pulled, restored, pushed again), ErrConflict and
	// no change: a push or pull racing the run is never lost. ErrNotFound
	// when the image is gone; ErrReferenced or a *StorageClassError as the
	// plain operations refuse. It returns the storage changes an archive made.
	ApplyLifecycleAction(ctx context.Context, repoID int64, want LifecycleImage, action LifecycleAction) ([]StorageChange, error)
}

// LifecyclePreviewStore persists lifecycle policy previews: the API starts
// them, the lifecycle-preview job finishes them.
type LifecyclePreviewStore interface {
	// StartLifecyclePreview makes a new IN_PROGRESS preview of text the
	// repository's latest, dropping the previous one and its results, and
	// returns it. ErrConflict (and no change) while the latest is still
	// IN_PROGRESS.
	StartLifecyclePreview(ctx context.Context, repoID int64, text string) (LifecyclePreview, error)
	// GetLifecyclePreview returns the repository's latest preview, or
	// ErrNotFound when none was ever started.
	GetLifecyclePreview(ctx context.Context, repoID int64) (LifecyclePreview, error)
	// PendingLifecyclePreviews returns up to limit (positive) IN_PROGRESS
	// previews of any repository, oldest first.
	PendingLifecyclePreviews(ctx context.Context, limit int) ([]LifecyclePreview, error)
	// FinishLifecyclePreview records the outcome of preview p (by
	// RepositoryID and Generation): Status COMPLETE with its results
	// (positions assigned in the order given) and counts, or FAILED with
	// Failure. ErrConflict (and no change) when p is no longer the
	// repository's IN_PROGRESS preview; ErrNotFound when it has none.
	FinishLifecyclePreview(ctx context.Context, p LifecyclePreview, results []LifecyclePreviewResult) error
	// LifecyclePreviewResults returns up to limit (positive) results of
	// the latest preview that f admits, by position after afterPosition.
	LifecyclePreviewResults(ctx context.Context, repoID int64, f PreviewResultFilter, afterPosition int64, limit int) ([]LifecyclePreviewResult, error)
}
