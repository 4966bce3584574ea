package app

import (
	"context"
	"time"

	"github.com/berth-registry/berth/internal/worker"
	"github.com/berth-registry/berth/internal/worker/gc"
)

// Background jobs. Each runs on one node at a time, on a schedule shared by
// all nodes (package worker).
const (
	jobUploadExpiry  = "upload-expiry"
	jobGC            = "gc"
	jobEventDelivery = "event-delivery"
	// jobImageRestore completes restores from the archive storage class.
	// Berth moves no data to restore, so a restore waits only for this
	// job, which each restore request triggers (restoreRequested).
	jobImageRestore = "image-restore"
	// jobLifecycle runs every repository's lifecycle policy (lifecycle.go);
	// jobLifecyclePreview computes the previews asked for.
	jobLifecycle        = "lifecycle"
	jobLifecyclePreview = "lifecycle-preview"
)

// The event dispatcher runs as one long job that keeps a short claim
// alive: when its node dies, another takes delivery over within about
// eventClaimTTL plus the worker's poll interval.
const (
	eventDeliveryEvery = 5 * time.Second
	eventClaimTTL      = 15 * time.Second
)

// imageRestoreEvery is how often pending restores are completed without a
// trigger: a safety net for a trigger lost with the node that took it.
const imageRestoreEvery = time.Minute

// newJobs builds this node's job runner.
func (a *App) newJobs() (*worker.Runner, error) {
	m, err := worker.NewMetrics(a.metrics)
	if err != nil {
		return nil, err
	}
	jobs := []worker.Job{
		{Name: jobUploadExpiry, Every: uploadExpiryEvery(a.cfg.UploadExpiry), Run: a.expireUploads},
		{Name: jobImageRestore, Every: imageRestoreEvery, Run: a.completeRestores},
		{Name: jobLifecycle, Every: a.cfg.LifecycleInterval, Run: a.lifecycle.RunPolicies},
		{Name: jobLifecyclePreview, Every: lifecyclePreviewEvery, Run: a.lifecycle.RunPreviews},
	}
	if a.cfg.GCInterval > 0 {
		jobs = append(jobs, worker.Job{Name: jobGC, Every: a.cfg.GCInterval, Run: a.collectGarbage})
	}
	if a.cfg.AuditRetention > 0 {
		jobs = append(jobs, worker.Job{Name: jobAuditRetention, Every: auditRetentionEvery, Run: a.expireAudit})
	}
	if d := a.events.Load(); d != nil {
		jobs = append(jobs, worker.Job{Name: jobEventDelivery, Every: eventDeliveryEvery, ClaimTTL: eventClaimTTL, Run: d.Run})
	}
	return worker.New(worker.Options{Jobs: a.meta, Holder: worker.HolderFor(a.node), Logger: a.log.With("node", a.node),
		Clock: a.now, Metrics: m}, jobs...)
}

// collectGarbage runs one garbage-collection pass; the pass logs its
// summary.
func (a *App) collectGarbage(ctx context.Context) error {
	_, err := a.gc.Pass(ctx, gc.PassOptions{Grace: a.cfg.GCGrace})
	return err
}

// uploadExpiryEvery checks for abandoned uploads ten times per expiry
// period, between once a second and once every ten minutes.
func uploadExpiryEvery(expiry time.Duration) time.Duration {
	return max(min(expiry/10, 10*time.Minute), time.Second)
}

// expireUploads removes abandoned upload sessions and their bytes.
func (a *App) expireUploads(ctx context.Context) error {
	n, err := a.svc.ExpireUploads(ctx)
	if n > 0 {
		a.log.Info("expired upload sessions", "count", n)
	}
	return err
}

// newCollector builds the garbage collector the gc job runs.
func (a *App) newCollector() (*gc.Collector, error) {
	m, err := gc.NewMetrics(a.metrics)
	if err != nil {
		return nil, err
	}
	return gc.New(gc.Options{Meta: a.meta, Blobs: a.blobs, Logger: a.log, Clock: a.now, Metrics: m})
}

// completeRestores makes images whose restore was requested pullable.
func (a *App) completeRestores(ctx context.Context) error {
	n, err := a.svc.CompleteRestores(ctx)
	if n > 0 {
		a.log.Info("restored images from the archive storage class", "count", n)
	}
	return err
}

// restoreRequested makes the image-restore job due now on every node.
func (a *App) restoreRequested(ctx context.Context) { a.trigger(ctx, jobImageRestore) }
