package app

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/berth-registry/berth/internal/audit"
	"github.com/berth-registry/berth/internal/config"
	"github.com/berth-registry/berth/internal/httpserver"
	"github.com/berth-registry/berth/internal/metastore"
	"github.com/berth-registry/berth/internal/metastore/sqlstore"
)

// The audit trail (tables of migrations/*/0009_audit.sql) lives in the
// metadata database on PostgreSQL, and on SQLite in a database file of its
// own in the data directory (audit.db): SQLite has one writer per file, and
// audit batches (about 1.5 KB a record, several records a push) would
// otherwise hold the metadata writer that every push waits for. The two
// files are not written in one transaction, and need not be: records are
// queued in memory before they are written anyway.

// auditSQLiteFile is the audit trail's SQLite database in the data directory.
const auditSQLiteFile = "audit.db"

// auditDB is where the trail is stored, and how to release it.
type auditDB struct {
	metastore.AuditStore
	close func() error // nil when the store is the metadata store
}

// openAuditDB opens the trail's store: meta itself on PostgreSQL, else
// <data-dir>/audit.db.
func openAuditDB(ctx context.Context, cfg config.Config, meta metastore.Store, o sqlstore.Options) (auditDB, error) {
	if cfg.Postgres() {
		return auditDB{AuditStore: meta}, nil
	}
	// audit.db is this node's own file: it is migrated on open whatever
	// --migrate says (which is about a database shared by many nodes).
	o.NoMigrate, o.MaxReaders, o.Metrics, o.NoOutbox, o.OnEvents = false, 2, nil, true, nil
	s, err := sqlstore.OpenSQLite(ctx, filepath.Join(cfg.DataDir, auditSQLiteFile), o)
	if err != nil {
		return auditDB{}, fmt.Errorf("audit database: %w", err)
	}
	return auditDB{AuditStore: s, close: s.Close}, nil
}

// Close releases a store of its own.
func (d auditDB) Close() error {
	if d.close == nil {
		return nil
	}
	return d.close()
}

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
	return audit.New(audit.Options{Store: a.auditDB, Region: a.cfg.Region, Logger: a.log, Clock: a.now, Metrics: m,
		RequestID: httpserver.RequestID})
}

// Audit is the node's audit recorder (nil when auditing is off): the
// lifecycle runner records its PolicyExecutionEvents with it.
func (a *App) Audit() *audit.Recorder { return a.audit }

// closeAudit writes the audit records still queued and closes the trail's
// own database.
func (a *App) closeAudit() {
	if a.audit != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := a.audit.Close(ctx); err != nil {
			a.log.Error("audit records lost at shutdown", "err", err)
		}
	}
	if err := a.auditDB.Close(); err != nil {
		a.log.Warn("closing the audit database", "err", err)
	}
}

// expireAudit deletes audit records older than the retention, keeping the
// chain verifiable from the last one deleted.
func (a *App) expireAudit(ctx context.Context) error {
	before := a.now().Add(-a.cfg.AuditRetention)
	total := 0
	for {
		n, err := a.auditDB.DeleteAuditBefore(ctx, before, auditRetentionBatch)
		total += n
		if err != nil || n < auditRetentionBatch {
			if total > 0 {
				a.log.Info("deleted audit records past their retention", "count", total, "before", before)
			}
			return err
		}
	}
}
