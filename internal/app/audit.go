package app

import (
	"context"
	"time"

	"github.com/berth-registry/berth/internal/audit"
	"github.com/berth-registry/berth/internal/httpserver"
)

// The audit trail is kept in the metadata database on both engines (see
// migrations/*/0009_audit.sql): its writer appends in batches, so on SQLite
// it adds about ten write transactions a second at most, which group
// commit shares with the registry's own writes.

// jobAuditRetention deletes audit records older than the retention.
const jobAuditRetention = "audit-retention"

// auditRetentionEvery is how often old audit records are deleted.
const auditRetentionEvery = time.Hour

// auditRetentionBatch bounds one retention transaction.
const auditRetentionBatch = 1000

// newAudit starts the audit writer, or returns nil when auditing is off.
func (a *App) newAudit() (*audit.Recorder, error) {
	if !a.cfg.Audit {
		return nil, nil
	}
	m, err := audit.NewMetrics(a.metrics)
	if err != nil {
		return nil, err
	}
	return audit.New(audit.Options{Store: a.meta, Region: a.cfg.Region, Logger: a.log, Clock: a.now, Metrics: m,
		RequestID: httpserver.RequestID})
}

// Audit is the node's audit recorder (nil when auditing is off): the
// lifecycle runner records its PolicyExecutionEvents with it.
func (a *App) Audit() *audit.Recorder { return a.audit }

// closeAudit writes the audit records still queued.
func (a *App) closeAudit() {
	if a.audit == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.audit.Close(ctx); err != nil {
		a.log.Error("audit records lost at shutdown", "err", err)
	}
}

// expireAudit deletes audit records older than the retention, keeping the
// chain verifiable from the last one deleted.
func (a *App) expireAudit(ctx context.Context) error {
	before := a.now().Add(-a.cfg.AuditRetention)
	total := 0
	for {
		n, err := a.meta.DeleteAuditBefore(ctx, before, auditRetentionBatch)
		total += n
		if err != nil || n < auditRetentionBatch {
			if total > 0 {
				a.log.Info("deleted audit records past their retention", "count", total, "before", before)
			}
			return err
		}
	}
}
