package app

import (
	"context"
	"time"

	"github.com/berth-registry/berth/internal/lifecycle"
	"github.com/berth-registry/berth/internal/worker/lifecyclerun"
)

// lifecyclePreviewEvery is how often pending previews are looked for
// without a trigger: a safety net for a trigger lost with the node that
// took it (each StartLifecyclePolicyPreview triggers the job).
const lifecyclePreviewEvery = time.Minute

// newLifecycleRunner builds what the lifecycle and lifecycle-preview jobs
// run. Each run's lifecycle.Execution goes to a.lifecycleRecorder(): the
// audit trail when it is wired, else a structured log line.
func (a *App) newLifecycleRunner() (*lifecyclerun.Runner, error) {
	m, err := lifecyclerun.NewMetrics(a.metrics)
	if err != nil {
		return nil, err
	}
	return lifecyclerun.New(lifecyclerun.Options{Store: a.meta, Recorder: a.lifecycleRecorder(), Logger: a.log,
		Clock: a.now, Metrics: m, Region: a.cfg.Region, Interval: a.cfg.LifecycleInterval})
}

// lifecycleRecorder is where lifecycle runs record what they did: a log
// line always, and the audit trail's PolicyExecutionEvent records (spec
// §5.5) when the trail is on.
func (a *App) lifecycleRecorder() lifecyclerun.Recorder {
	return executionRecorder{app: a, log: lifecyclerun.LogRecorder{Logger: a.log}}
}

// executionRecorder reads a.audit when a run ends, not when the runner is
// built: the trail starts later in New, and before any job runs.
type executionRecorder struct {
	app *App
	log lifecyclerun.LogRecorder
}

func (r executionRecorder) RecordPolicyExecution(ctx context.Context, e lifecycle.Execution) error {
	_ = r.log.RecordPolicyExecution(ctx, e)
	return r.app.Audit().RecordPolicyExecution(ctx, e) // nil-safe: auditing off records nothing
}

// lifecyclePolicyChanged makes the lifecycle job due now, so a new policy
// runs right after it is put (ECR promises within 24 hours).
func (a *App) lifecyclePolicyChanged(ctx context.Context) {
	a.trigger(ctx, jobLifecycle)
}

// lifecyclePreviewStarted makes the lifecycle-preview job due now.
func (a *App) lifecyclePreviewStarted(ctx context.Context) {
	a.trigger(ctx, jobLifecyclePreview)
}

func (a *App) trigger(ctx context.Context, job string) {
	if a.jobs == nil { // not built yet: the job's own schedule picks the work up
		return
	}
	if err := a.jobs.Trigger(ctx, job); err != nil {
		a.log.WarnContext(ctx, "could not trigger a job; its schedule runs it anyway", "job", job, "err", err)
	}
}
