package lifecyclerun

import (
	"context"
	"errors"
	"fmt"

	"github.com/berth-registry/berth/internal/lifecycle"
	"github.com/berth-registry/berth/internal/metastore"
)

// RunPreviews computes every pending preview (IN_PROGRESS), oldest first:
// the lifecycle-preview job. A preview that cannot be evaluated ends
// FAILED; one that meets a store failure stays pending for the next run,
// and the others are still computed, so one repository cannot hold up the
// previews of all.
func (r *Runner) RunPreviews(ctx context.Context) error {
	var errs []error
	for {
		page, err := r.o.Store.PendingLifecyclePreviews(ctx, previewPage)
		if err != nil {
			return errors.Join(append(errs, fmt.Errorf("pending lifecycle previews: %w", err))...)
		}
		done := 0
		for _, p := range page {
			if err := r.Preview(ctx, p); err != nil {
				errs = append(errs, fmt.Errorf("lifecycle preview of repository %d: %w", p.RepositoryID, err))
				continue
			}
			done++
		}
		// The failed previews stay pending and head the next page: stop
		// when a page made no progress.
		if len(page) < previewPage || done == 0 || ctx.Err() != nil {
			return errors.Join(errs...)
		}
	}
}

// Preview computes one preview and records it COMPLETE with its results,
// or FAILED. A preview replaced meanwhile (a new start, the repository
// deleted) is dropped silently.
func (r *Runner) Preview(ctx context.Context, p metastore.LifecyclePreview) error {
	p.Status = metastore.PreviewComplete
	results, err := r.previewResults(ctx, &p)
	var ipe *lifecycle.InvalidPolicyError
	if errors.As(err, &ipe) {
		p.Status, p.Failure, results = metastore.PreviewFailed, ipe.Message(), nil
	} else if err != nil {
		return err
	}
	err = r.o.Store.FinishLifecyclePreview(ctx, p, results)
	if errors.Is(err, metastore.ErrConflict) || errors.Is(err, metastore.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("finish lifecycle preview: %w", err)
	}
	r.o.Metrics.preview(p.Status)
	r.o.Logger.InfoContext(ctx, "lifecycle preview computed", "repositoryId", p.RepositoryID, "status", p.Status,
		"expiring", p.ExpiringCount, "transitioning", p.TransitioningCount)
	return nil
}

// previewResults evaluates p's policy now and sets its summary.
func (r *Runner) previewResults(ctx context.Context, p *metastore.LifecyclePreview) ([]metastore.LifecyclePreviewResult, error) {
	policy, err := lifecycle.Parse(p.PolicyText)
	if err != nil {
		return nil, err
	}
	now := r.o.Clock().UTC()
	cands, images, err := r.candidates(ctx, p.RepositoryID, now)
	if err != nil {
		return nil, err
	}
	res := lifecycle.Evaluate(policy, images, now)
	p.ExpiringCount = res.Summary.ExpiringImageTotalCount
	for _, t := range res.Summary.TransitioningImageTotalCounts {
		p.TransitioningCount += t.ImageTotalCount
	}
	out := make([]metastore.LifecyclePreviewResult, len(res.Decisions))
	for i, d := range res.Decisions {
		c := cands.at(d.Index)
		class := metastore.StorageStandard
		if images[d.Index].StorageClass == lifecycle.Archive {
			class = metastore.StorageArchive
		}
		out[i] = metastore.LifecyclePreviewResult{Digest: c.Digest, Tags: c.Tags, PushedAt: c.PushedAt,
			Action: string(d.Action.Type), TargetStorageClass: string(d.Action.TargetStorageClass),
			RulePriority: d.RulePriority, StorageClass: class}
	}
	return out, nil
}
