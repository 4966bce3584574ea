// Package lifecyclerun carries out ECR lifecycle policies (spec §5): the
// lifecycle job evaluates every repository that has a policy and expires or
// archives what the policy designates; the lifecycle-preview job computes
// the previews StartLifecyclePolicyPreview asked for. Both evaluate with
// the one pure engine, lifecycle.Evaluate, over the same candidates
// (metastore LifecycleCandidates), so a preview shows what a run would do.
//
// # Races with pushes and pulls
//
// A run reads a repository, evaluates it, then acts image by image. A push
// or pull may land in between: a tag moved onto an image the run chose to
// expire, a pull of an image chosen for a sinceImagePulled archive, a
// restore. Re-evaluating the whole repository in one consistent read per
// action would cost O(n) per image; instead every action is conditional
// (metastore ApplyLifecycleAction): in the transaction that deletes or
// archives, the store checks that the image still has the status, tags,
// push, pull and restore times the evaluation saw, and refuses (ErrConflict)
// otherwise. A refused decision is skipped, not retried: the next run
// evaluates the image afresh. So a run never acts on a state it did not
// evaluate, and a racing push or pull is never lost.
package lifecyclerun

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/berth-registry/berth/internal/lifecycle"
	"github.com/berth-registry/berth/internal/metastore"
)

// Store is what runs and previews need of the metadata store.
type Store interface {
	ListLifecyclePolicies(ctx context.Context, afterRepoID int64, limit int) ([]metastore.LifecyclePolicy, error)
	LifecycleCandidates(ctx context.Context, repoID int64, p metastore.Page) ([]metastore.LifecycleImage, error)
	ApplyLifecycleAction(ctx context.Context, repoID int64, want metastore.LifecycleImage, action metastore.LifecycleAction) ([]metastore.StorageChange, error)
	MarkLifecycleEvaluated(ctx context.Context, repoID int64, policyID string, at time.Time) error
	PendingLifecyclePreviews(ctx context.Context, limit int) ([]metastore.LifecyclePreview, error)
	FinishLifecyclePreview(ctx context.Context, p metastore.LifecyclePreview, results []metastore.LifecyclePreviewResult) error
}

// Recorder receives what each run did to one repository: the audit trail
// (CloudTrail PolicyExecutionEvent records, spec §5.5). It is called after
// every run of a repository, also when the run did nothing (Actions empty).
type Recorder interface {
	RecordPolicyExecution(ctx context.Context, e lifecycle.Execution) error
}

// LogRecorder records executions as structured log lines: a summary at
// info level when the run acted, at debug level otherwise, and one debug
// line per image.
type LogRecorder struct{ Logger *slog.Logger }

// RecordPolicyExecution implements Recorder.
func (l LogRecorder) RecordPolicyExecution(ctx context.Context, e lifecycle.Execution) error {
	log := l.Logger
	if log == nil {
		return nil
	}
	expired, archived := 0, 0
	for _, a := range e.Actions {
		if a.Action.Type == lifecycle.Expire {
			expired++
		} else {
			archived++
		}
		log.DebugContext(ctx, "lifecycle action", "repository", e.RepositoryName, "digest", a.Digest, "tags", a.Tags,
			"action", a.Action.Type, "rulePriority", a.RulePriority, "reason", a.Reason)
	}
	level := slog.LevelDebug
	if len(e.Actions) > 0 {
		level = slog.LevelInfo
	}
	log.Log(ctx, level, "lifecycle policy executed", "account", e.AccountID, "repository", e.RepositoryName,
		"policyId", e.PolicyID, "policyVersion", e.PolicyVersion, "evaluatedAt", e.EvaluatedAt,
		"expired", expired, "archived", archived)
	return nil
}

// Options configures a Runner. Store is required.
type Options struct {
	Store Store
	// Recorder receives every run's Execution; nil logs them (LogRecorder).
	Recorder Recorder
	Logger   *slog.Logger
	Clock    func() time.Time
	// Metrics records runs; nil records nothing.
	Metrics *Metrics
	// Region names where the records' repositories are.
	Region string
	// Interval is the lifecycle job's schedule. RunPolicies skips a policy
	// evaluated less than half of it ago, so that a run triggered by one
	// policy's put evaluates that policy (never evaluated under its new
	// text) and not again all the others. 0 evaluates every policy.
	Interval time.Duration
	// CandidatePage is how many images one store read returns (default
	// 5000).
	CandidatePage int
}

// Runner runs lifecycle policies and previews.
type Runner struct {
	o Options
}

// New builds a Runner.
func New(o Options) (*Runner, error) {
	if o.Store == nil {
		return nil, errors.New("lifecyclerun: Store is required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Recorder == nil {
		o.Recorder = LogRecorder{Logger: o.Logger}
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.CandidatePage <= 0 {
		o.CandidatePage = candidatePage
	}
	return &Runner{o: o}, nil
}

// Page sizes of the store reads.
const (
	policyPage    = 100
	candidatePage = 5000
	previewPage   = 10
)

// RunPolicies evaluates every repository with a lifecycle policy (but
// those evaluated within half of Options.Interval) and acts on the
// decisions: the lifecycle job. A repository whose run fails is logged and
// counted, and the others still run; the error reports the failures (and a
// store failure listing the policies).
func (r *Runner) RunPolicies(ctx context.Context) error {
	var failed []error
	var after int64
	recent := r.o.Clock().Add(-r.o.Interval / 2)
	for {
		page, err := r.o.Store.ListLifecyclePolicies(ctx, after, policyPage)
		if err != nil {
			return errors.Join(append(failed, fmt.Errorf("list lifecycle policies: %w", err))...)
		}
		for _, p := range page {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if r.o.Interval > 0 && !p.LastEvaluatedAt.IsZero() && p.LastEvaluatedAt.After(recent) {
				continue
			}
			if _, err := r.RunRepository(ctx, p); err != nil {
				r.o.Logger.WarnContext(ctx, "lifecycle run failed", "account", p.AccountID, "repository", p.RepositoryName, "err", err)
				failed = append(failed, fmt.Errorf("repository %s/%s: %w", p.AccountID, p.RepositoryName, err))
			}
		}
		if len(page) < policyPage {
			return errors.Join(failed...)
		}
		after = page[len(page)-1].RepositoryID
	}
}

// RepositoryRun counts what one run did to a repository.
type RepositoryRun struct {
	Images   int // evaluated
	Expired  int
	Archived int
	// Skipped are decisions not carried out because the image changed
	// after the evaluation (see the package documentation).
	Skipped int
	Held    int // decisions held back by an image index that needs the image
}

// RunRepository evaluates one repository's policy (p as listed by
// ListLifecyclePolicies) and carries out its decisions, then records the
// run (lastEvaluatedAt and the Recorder).
func (r *Runner) RunRepository(ctx context.Context, p metastore.LifecyclePolicy) (RepositoryRun, error) {
	var run RepositoryRun
	err := r.runRepository(ctx, p, &run)
	r.o.Metrics.run(run, err)
	return run, err
}

func (r *Runner) runRepository(ctx context.Context, p metastore.LifecyclePolicy, run *RepositoryRun) error {
	policy, err := lifecycle.Parse(p.Text)
	if err != nil { // stored policies were validated; a newer, stricter parser could refuse one
		return fmt.Errorf("stored policy no longer parses: %w", err)
	}
	now := r.o.Clock().UTC()
	cands, images, err := r.candidates(ctx, p.RepositoryID, now)
	if err != nil {
		return err
	}
	res := lifecycle.Evaluate(policy, images, now)
	run.Images, run.Held = len(images), len(res.Held)
	exec := lifecycle.Execution{AccountID: p.AccountID, Region: r.o.Region, RepositoryName: p.RepositoryName,
		PolicyText: p.Text, PolicyID: p.PolicyID, PolicyVersion: p.Version, EvaluatedAt: now}
	for _, d := range res.Decisions {
		c := cands.at(d.Index)
		action := metastore.LifecycleExpire
		if d.Action.Type == lifecycle.Transition {
			action = metastore.LifecycleArchive
		}
		_, err := r.o.Store.ApplyLifecycleAction(ctx, p.RepositoryID, *c, action)
		var sce *metastore.StorageClassError
		switch {
		case errors.Is(err, metastore.ErrConflict), errors.Is(err, metastore.ErrNotFound),
			errors.Is(err, metastore.ErrReferenced), errors.As(err, &sce):
			// Changed since the evaluation (or taken along by an earlier
			// action of this run, as a referrer archived with its subject).
			run.Skipped++
			r.o.Logger.DebugContext(ctx, "lifecycle action skipped", "repository", p.RepositoryName, "digest", c.Digest, "err", err)
			continue
		case err != nil:
			return r.finish(ctx, p, exec, fmt.Errorf("%s %s: %w", action, c.Digest, err))
		}
		if action == metastore.LifecycleExpire {
			run.Expired++
		} else {
			run.Archived++
		}
		exec.Actions = append(exec.Actions, lifecycle.ExecutedAction{Digest: c.Digest, Tags: c.Tags, PushedAt: c.PushedAt,
			Action: d.Action, RulePriority: d.RulePriority, Reason: d.Reason()})
	}
	return r.finish(ctx, p, exec, nil)
}

// finish records a run, complete or cut short by runErr: what it did goes
// to the Recorder either way; lastEvaluatedAt moves only on success.
func (r *Runner) finish(ctx context.Context, p metastore.LifecyclePolicy, exec lifecycle.Execution, runErr error) error {
	errs := []error{runErr}
	if runErr == nil {
		err := r.o.Store.MarkLifecycleEvaluated(ctx, p.RepositoryID, p.PolicyID, exec.EvaluatedAt)
		if err != nil && !errors.Is(err, metastore.ErrNotFound) { // not found: the policy changed or went meanwhile
			errs = append(errs, fmt.Errorf("mark evaluated: %w", err))
		}
	}
	if err := r.o.Recorder.RecordPolicyExecution(ctx, exec); err != nil {
		errs = append(errs, fmt.Errorf("record policy execution: %w", err))
	}
	return errors.Join(errs...)
}

// candidates reads every image of the repository and converts it for the
// evaluator: images[i] is cands.at(i). Pages are kept as read, not
// appended into one slice: at 100,000 images the copies of a growing
// slice cost more than the evaluation.
func (r *Runner) candidates(ctx context.Context, repoID int64, now time.Time) (candidatePages, []lifecycle.Image, error) {
	pages := candidatePages{size: r.o.CandidatePage}
	n := 0
	last := ""
	for {
		page, err := r.o.Store.LifecycleCandidates(ctx, repoID, metastore.Page{Last: last, Limit: pages.size})
		if err != nil {
			return candidatePages{}, nil, fmt.Errorf("lifecycle candidates: %w", err)
		}
		if len(page) > 0 {
			pages.pages = append(pages.pages, page)
			n += len(page)
		}
		if len(page) < pages.size {
			break
		}
		last = page[len(page)-1].Digest.String()
	}
	images := make([]lifecycle.Image, 0, n)
	for _, page := range pages.pages {
		for i := range page {
			images = append(images, toImage(&page[i], now))
		}
	}
	return pages, images, nil
}

// candidatePages are the pages of LifecycleCandidates, each full (size
// images) but the last.
type candidatePages struct {
	size  int
	pages [][]metastore.LifecycleImage
}

// at returns the i-th image.
func (p candidatePages) at(i int) *metastore.LifecycleImage {
	return &p.pages[i/p.size][i%p.size]
}

// toImage is an image as the evaluator sees it. An image being restored
// (ACTIVATING) counts as a Standard image restored now, as the evaluator's
// documentation advises: it is about to become a fresh push.
func toImage(c *metastore.LifecycleImage, now time.Time) lifecycle.Image {
	img := lifecycle.Image{Digest: c.Digest, Tags: c.Tags, PushedAt: c.PushedAt, LastRecordedPullTime: c.LastPulledAt,
		LastArchivedAt: c.LastArchivedAt, LastActivatedAt: c.LastActivatedAt, ReferencedBy: c.Parents, Subject: c.Subject,
		StorageClass: lifecycle.Standard}
	switch c.Status {
	case metastore.ImageArchived:
		img.StorageClass = lifecycle.Archive
	case metastore.ImageActivating:
		img.LastActivatedAt = now
	}
	return img
}
