package registry

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/google/uuid"
	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/lifecycle"
	"github.com/berth-registry/berth/internal/metastore"
)

// Lifecycle policies (spec §5). The service validates, stores and reads
// policies and previews; the lifecycle and lifecycle-preview background
// jobs (package worker/lifecycle) evaluate them.

// Actions of the lifecycle operations.
const (
	ActionPutLifecyclePolicy          = "ecr:PutLifecyclePolicy"
	ActionGetLifecyclePolicy          = "ecr:GetLifecyclePolicy"
	ActionDeleteLifecyclePolicy       = "ecr:DeleteLifecyclePolicy"
	ActionStartLifecyclePolicyPreview = "ecr:StartLifecyclePolicyPreview"
	ActionGetLifecyclePolicyPreview   = "ecr:GetLifecyclePolicyPreview"
)

// Lifecycle error kinds.
var (
	ErrLifecyclePolicyNotFound    = errors.New("lifecycle policy not found")
	ErrLifecyclePreviewInProgress = errors.New("lifecycle policy preview in progress")
	ErrLifecyclePreviewNotFound   = errors.New("lifecycle policy preview not found")
)

// MaxPreviewResults bounds one page of preview results (the model's
// LifecyclePreviewMaxResults).
const MaxPreviewResults = 100

// checkLifecyclePolicy validates text with the lifecycle engine; the error
// carries the engine's ECR-worded message.
func checkLifecyclePolicy(text string) error {
	if _, err := lifecycle.Parse(text); err != nil {
		var pe *lifecycle.InvalidPolicyError
		if errors.As(err, &pe) {
			return &Error{Kind: ErrInvalidParameter, Message: pe.Message(), Detail: map[string]string{"detail": pe.Detail}}
		}
		return errorf(ErrInvalidParameter, "%s", err.Error())
	}
	return nil
}

// PutLifecyclePolicy validates and stores a repository's lifecycle policy,
// then asks for a run soon (Options.LifecyclePolicyChanged).
func (s *Service) PutLifecyclePolicy(ctx context.Context, who auth.Principal, r RepoRef, text string) (metastore.LifecyclePolicy, error) {
	if err := checkLifecyclePolicy(text); err != nil {
		return metastore.LifecyclePolicy{}, err
	}
	repo, err := s.repository(ctx, who, ActionPutLifecyclePolicy, r, false)
	if err != nil {
		return metastore.LifecyclePolicy{}, err
	}
	p, err := s.meta.PutLifecyclePolicy(ctx, metastore.LifecyclePolicy{RepositoryID: repo.ID, Text: text, PolicyID: uuid.NewString()})
	if errors.Is(err, metastore.ErrNotFound) {
		return metastore.LifecyclePolicy{}, s.nameUnknown(r, false)
	}
	if err != nil {
		return metastore.LifecyclePolicy{}, fmt.Errorf("put lifecycle policy: %w", err)
	}
	s.log.InfoContext(ctx, "lifecycle policy put", "account", r.AccountID, "repository", r.Name,
		"policyId", p.PolicyID, "version", p.Version)
	if s.opts.LifecyclePolicyChanged != nil {
		s.opts.LifecyclePolicyChanged(ctx)
	}
	return p, nil
}

// GetLifecyclePolicy returns a repository's lifecycle policy.
func (s *Service) GetLifecyclePolicy(ctx context.Context, who auth.Principal, r RepoRef) (metastore.LifecyclePolicy, error) {
	repo, err := s.repository(ctx, who, ActionGetLifecyclePolicy, r, false)
	if err != nil {
		return metastore.LifecyclePolicy{}, err
	}
	p, err := s.meta.GetLifecyclePolicy(ctx, repo.ID)
	if errors.Is(err, metastore.ErrNotFound) {
		return p, lifecyclePolicyNotFound(r)
	}
	return p, err
}

// DeleteLifecyclePolicy removes a repository's lifecycle policy and returns it.
func (s *Service) DeleteLifecyclePolicy(ctx context.Context, who auth.Principal, r RepoRef) (metastore.LifecyclePolicy, error) {
	repo, err := s.repository(ctx, who, ActionDeleteLifecyclePolicy, r, false)
	if err != nil {
		return metastore.LifecyclePolicy{}, err
	}
	p, err := s.meta.DeleteLifecyclePolicy(ctx, repo.ID)
	if errors.Is(err, metastore.ErrNotFound) {
		return p, lifecyclePolicyNotFound(r)
	}
	return p, err
}

func lifecyclePolicyNotFound(r RepoRef) error {
	return errorf(ErrLifecyclePolicyNotFound, "Lifecycle policy does not exist for the repository with name '%s' "+
		"in the registry with id '%s'", r.Name, r.AccountID)
}

// StartLifecyclePolicyPreview starts a preview of text, or of the
// repository's policy when text is nil, and returns the previewed text.
// The lifecycle-preview job computes it (Options.LifecyclePreviewStarted
// wakes it).
func (s *Service) StartLifecyclePolicyPreview(ctx context.Context, who auth.Principal, r RepoRef, text *string) (metastore.LifecyclePreview, error) {
	if text != nil {
		if err := checkLifecyclePolicy(*text); err != nil {
			return metastore.LifecyclePreview{}, err
		}
	}
	repo, err := s.repository(ctx, who, ActionStartLifecyclePolicyPreview, r, false)
	if err != nil {
		return metastore.LifecyclePreview{}, err
	}
	if text == nil {
		p, err := s.meta.GetLifecyclePolicy(ctx, repo.ID)
		if errors.Is(err, metastore.ErrNotFound) {
			return metastore.LifecyclePreview{}, lifecyclePolicyNotFound(r)
		}
		if err != nil {
			return metastore.LifecyclePreview{}, fmt.Errorf("get lifecycle policy: %w", err)
		}
		text = &p.Text
	}
	pv, err := s.meta.StartLifecyclePreview(ctx, repo.ID, *text)
	switch {
	case errors.Is(err, metastore.ErrConflict):
		return pv, errorf(ErrLifecyclePreviewInProgress, "Previous lifecycle policy preview request has not been completed "+
			"for the repository with name '%s' in the registry with id '%s'", r.Name, r.AccountID)
	case errors.Is(err, metastore.ErrNotFound):
		return pv, s.nameUnknown(r, false)
	case err != nil:
		return pv, fmt.Errorf("start lifecycle preview: %w", err)
	}
	if s.opts.LifecyclePreviewStarted != nil {
		s.opts.LifecyclePreviewStarted(ctx)
	}
	return pv, nil
}

// PreviewQuery selects a page of a preview's results.
type PreviewQuery struct {
	// IDs, when not empty, keeps only these images; a tag names the image
	// it points to now.
	IDs []ImageID
	// TagStatus filters by tags at evaluation; "" means ANY.
	TagStatus metastore.TagStatus
	// After is the last position of the previous page (0: the first page);
	// Limit the page size, 1 to MaxPreviewResults.
	After int64
	Limit int
	// Generation, when not zero, is the preview the previous page came
	// from: a page of another preview is refused.
	Generation int64
}

// PreviewPage is a preview with one page of its results.
type PreviewPage struct {
	Preview metastore.LifecyclePreview
	Results []metastore.LifecyclePreviewResult
	// More is true when results follow the page.
	More bool
}

// GetLifecyclePolicyPreview returns the repository's latest preview and,
// once COMPLETE, a page of its results.
func (s *Service) GetLifecyclePolicyPreview(ctx context.Context, who auth.Principal, r RepoRef, q PreviewQuery) (PreviewPage, error) {
	if q.Limit < 1 || q.Limit > MaxPreviewResults {
		return PreviewPage{}, errorf(ErrInvalidParameter, "maxResults must be between 1 and %d", MaxPreviewResults)
	}
	switch q.TagStatus {
	case "", metastore.TagStatusAny, metastore.TagStatusTagged, metastore.TagStatusUntagged:
	default:
		return PreviewPage{}, errorf(ErrInvalidParameter, "filter.tagStatus must be TAGGED, UNTAGGED or ANY")
	}
	repo, err := s.repository(ctx, who, ActionGetLifecyclePolicyPreview, r, false)
	if err != nil {
		return PreviewPage{}, err
	}
	pv, err := s.meta.GetLifecyclePreview(ctx, repo.ID)
	if errors.Is(err, metastore.ErrNotFound) {
		return PreviewPage{}, errorf(ErrLifecyclePreviewNotFound, "There is no dry run for the repository with name '%s' "+
			"in the registry with id '%s'", r.Name, r.AccountID)
	}
	if err != nil {
		return PreviewPage{}, fmt.Errorf("get lifecycle preview: %w", err)
	}
	if q.Generation != 0 && q.Generation != pv.Generation {
		return PreviewPage{}, errorf(ErrInvalidParameter, "Invalid parameter at 'nextToken' failed to satisfy constraint: "+
			"'the token belongs to an earlier preview of this repository'")
	}
	page := PreviewPage{Preview: pv}
	if pv.Status != metastore.PreviewComplete {
		return page, nil
	}
	f := metastore.PreviewResultFilter{TagStatus: q.TagStatus}
	if len(q.IDs) > 0 {
		if f.Digests, err = s.previewDigests(ctx, repo.ID, q.IDs); err != nil {
			return PreviewPage{}, err
		}
		if len(f.Digests) == 0 {
			return page, nil
		}
	}
	res, err := s.meta.LifecyclePreviewResults(ctx, repo.ID, f, q.After, q.Limit+1)
	if err != nil {
		return PreviewPage{}, fmt.Errorf("lifecycle preview results: %w", err)
	}
	if len(res) > q.Limit {
		res, page.More = res[:q.Limit], true
	}
	page.Results = res
	return page, nil
}

// previewDigests resolves image ids to digests; an id naming no image
// selects nothing (the preview simply has no result for it).
func (s *Service) previewDigests(ctx context.Context, repoID int64, ids []ImageID) ([]digest.Digest, error) {
	var out []digest.Digest
	for _, id := range ids {
		d, f := s.resolve(ctx, repoID, id)
		if f != nil {
			if f.err != nil { // a store failure is no missing image: the page would wrongly be empty
				return nil, f.err
			}
			switch f.Code {
			case FailureMissingDigestAndTag, FailureInvalidImageDigest, FailureInvalidImageTag:
				return nil, errorf(ErrInvalidParameter, "Invalid parameter at 'imageIds' failed to satisfy constraint: '%s'", f.Reason)
			}
			continue
		}
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out, nil
}
