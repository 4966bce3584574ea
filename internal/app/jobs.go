package app

import (
	"context"
	"time"

	"github.com/berth-registry/berth/internal/worker"
)

// Background jobs. Each runs on one node at a time, on a schedule shared by
// all nodes (package worker).
const (
	jobUploadExpiry  = "upload-expiry"
	jobEventDelivery = "event-delivery"
)

// The event dispatcher runs as one long job that keeps a short claim
// alive: when its node dies, another takes delivery over within about
// eventClaimTTL plus the worker's poll interval.
const (
	eventDeliveryEvery = 5 * time.Second
	eventClaimTTL      = 15 * time.Second
)

// newJobs builds this node's job runner.
func (a *App) newJobs() (*worker.Runner, error) {
	m, err := worker.NewMetrics(a.metrics)
	if err != nil {
		return nil, err
	}
	jobs := []worker.Job{
		{Name: jobUploadExpiry, Every: uploadExpiryEvery(a.cfg.UploadExpiry), Run: a.expireUploads},
	}
	if d := a.events.Load(); d != nil {
		jobs = append(jobs, worker.Job{Name: jobEventDelivery, Every: eventDeliveryEvery, ClaimTTL: eventClaimTTL, Run: d.Run})
	}
	return worker.New(worker.Options{Jobs: a.meta, Logger: a.log, Clock: a.now, Metrics: m}, jobs...)
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
