package sqlstore

import (
	"context"
	"database/sql"
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// writer runs the store's write transactions: the committer (group commit
// on SQLite's single writer) or a txWriter (one transaction per write on
// PostgreSQL). Either way fn gets a transaction of its own or a savepoint
// of one, and a context that the caller's cancellation does not reach once
// the write started, so a caller never hears "canceled" about a write that
// in fact happened.
type writer interface {
	submit(ctx context.Context, op string, fn func(ctx context.Context, tx *sql.Tx) error) error
	close()
}

// txWriter runs each write in its own transaction from a pool, at the
// dialect's write isolation: SERIALIZABLE on PostgreSQL. That is the
// simplest level that keeps every check-then-write of the store correct
// with writers on many nodes, without a lock per invariant: PutManifest's
// reference check against a concurrent delete of the referenced manifest,
// the one winner of a new immutable tag, the upload offset compare-and-swap,
// IAM name uniqueness and DeleteUser's "still in use" check. PostgreSQL
// aborts one of two transactions whose interleaving no serial order
// explains (SQLSTATE 40001, or 40P01 for a deadlock); the write then runs
// again from the start, after a jittered backoff, a bounded number of
// times. So fn may run more than once: it must touch only tx and its own
// results.
type txWriter struct {
	db       *sql.DB
	opts     *sql.TxOptions
	classify func(error) errClass
	metrics  *Metrics
	now      func() time.Time
	closed   atomic.Bool
}

// Retry bounds: up to maxWriteAttempts runs, sleeping a random time below
// min(retryBackoffMax, retryBackoffBase<<attempt) between them (full
// jitter: contenders spread out instead of colliding again in step).
const (
	maxWriteAttempts = 20
	retryBackoffBase = 2 * time.Millisecond
	retryBackoffMax  = 250 * time.Millisecond
)

// writeTimeout bounds one run of a write, so a database that stops
// answering cannot hold a request forever.
const writeTimeout = time.Minute

func newTxWriter(db *sql.DB, d dialect, m *Metrics, now func() time.Time) *txWriter {
	if now == nil {
		now = time.Now
	}
	return &txWriter{db: db, opts: d.writeTx, classify: d.classify, metrics: m, now: now}
}

func (w *txWriter) submit(ctx context.Context, op string, fn func(ctx context.Context, tx *sql.Tx) error) error {
	for attempt := 1; ; attempt++ {
		if w.closed.Load() {
			return errClosed
		}
		if err := ctx.Err(); err != nil {
			return err // abandoned before this run started: nothing was written
		}
		err := w.run(ctx, fn)
		if err == nil || attempt == maxWriteAttempts || w.classify(err) != errRetry {
			return err
		}
		w.metrics.retried()
		backoff := min(retryBackoffMax, retryBackoffBase<<attempt)
		t := time.NewTimer(rand.N(backoff))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		}
	}
}

// run is one attempt: begin, fn, commit. Waiting for a connection heeds
// the caller's context; the transaction, once begun, does not (bounded by
// writeTimeout), so its outcome is known when run returns.
func (w *txWriter) run(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	conn, err := w.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), writeTimeout)
	defer cancel()
	start := w.now()
	tx, err := conn.BeginTx(ctx, w.opts)
	if err != nil {
		return err
	}
	if err := fn(ctx, tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	w.metrics.committed(1, w.now().Sub(start))
	return nil
}

// close refuses further writes; writes under way finish.
func (w *txWriter) close() { w.closed.Store(true) }
