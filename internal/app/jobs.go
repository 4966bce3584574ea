package app

import (
	"context"
	"time"

	"github.com/berth-registry/berth/internal/worker"
)

// Background jobs. Each runs on one node at a time, on a schedule shared by
// all nodes (package worker).
const (
	jobUploadExpiry = "upload-expiry"
	// jobImageRestore completes restores from the archive storage class.
	// Berth moves no data to restore, so a restore waits only for this
	// job, which each restore request triggers (restoreRequested).
	jobImageRestore = "image-restore"
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
	return worker.New(worker.Options{Jobs: a.meta, Logger: a.log, Clock: a.now, Metrics: m},
		worker.Job{Name: jobUploadExpiry, Every: uploadExpiryEvery(a.cfg.UploadExpiry), Run: a.expireUploads},
		worker.Job{Name: jobImageRestore, Every: imageRestoreEvery, Run: a.completeRestores},
	)
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

// completeRestores makes images whose restore was requested pullable.
func (a *App) completeRestores(ctx context.Context) error {
	n, err := a.svc.CompleteRestores(ctx)
	if n > 0 {
		a.log.Info("restored images from the archive storage class", "count", n)
	}
	return err
}

// restoreRequested makes the image-restore job due now on every node.
func (a *App) restoreRequested(ctx context.Context) {
	if err := a.jobs.Trigger(ctx, jobImageRestore); err != nil {
		a.log.WarnContext(ctx, "could not trigger the image-restore job; it runs within a minute anyway", "err", err)
	}
}
