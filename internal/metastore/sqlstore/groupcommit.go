package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/berth-registry/berth/internal/metastore"
)

// Group commit.
//
// Every write transaction must be durable before it returns (synchronous=FULL
// fsyncs the WAL on each commit), and SQLite has one writer. Committing each
// write alone would cap the whole registry at one write per fsync, tens per
// second on slow disks. Instead one committer goroutine takes every write
// queued while the previous commit was syncing and runs them in a single
// transaction, each inside its own SAVEPOINT so that one write's failure
// rolls back only that write. The batch pays one fsync; no caller returns
// before the commit that contains its write is durable. An idle store runs a
// lone write at once, so latency does not grow when there is no contention.

// maxBatch bounds how many writes share one commit.
const maxBatch = 256

// writeReq is one queued write.
type writeReq struct {
	ctx  context.Context
	op   string
	fn   func(ctx context.Context, tx *sql.Tx) error
	err  error // the write's own outcome inside the batch
	done chan error
}

// committer owns the writer connection after the store opens.
type committer struct {
	db   *sql.DB
	opts *sql.TxOptions
	reqs chan *writeReq
	stop chan struct{}
	done chan struct{}
	// commits counts transactions committed, for tests.
	commits   atomic.Int64
	closeOnce sync.Once
	metrics   *Metrics         // nil records nothing
	now       func() time.Time // times commits for metrics
}

// newCommitter starts the committer; m may be nil, now nil means time.Now.
func newCommitter(db *sql.DB, opts *sql.TxOptions, m *Metrics, now func() time.Time) *committer {
	if now == nil {
		now = time.Now
	}
	c := &committer{db: db, opts: opts, reqs: make(chan *writeReq, maxBatch),
		stop: make(chan struct{}), done: make(chan struct{}), metrics: m, now: now}
	go c.run()
	return c
}

// errClosed is returned for writes submitted after Close: to the caller,
// the database is unavailable.
var errClosed = fmt.Errorf("sqlstore: store is closed: %w", metastore.ErrUnavailable)

// submit queues fn and waits for the commit that holds it.
// fn receives the context to run its statements with: never cancelled, since
// an interrupted statement would roll back the whole shared transaction.
func (c *committer) submit(ctx context.Context, op string, fn func(ctx context.Context, tx *sql.Tx) error) error {
	r := &writeReq{ctx: ctx, op: op, fn: fn, done: make(chan error, 1)}
	select {
	case c.reqs <- r:
	case <-c.stop:
		return errClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	// Once queued the write may commit; wait for the outcome rather than
	// report a cancellation for a write that in fact happened. A write
	// queued as the committer stopped gets no answer from it: errClosed.
	select {
	case err := <-r.done:
		return err
	case <-c.done:
		select {
		case err := <-r.done:
			return err
		default:
			return errClosed
		}
	}
}

// close stops the committer; closing twice is harmless.
func (c *committer) close() {
	c.closeOnce.Do(func() { close(c.stop) })
	<-c.done
}

func (c *committer) run() {
	defer close(c.done)
	for {
		var first *writeReq
		select {
		case first = <-c.reqs:
		case <-c.stop:
			c.drain()
			return
		}
		batch := []*writeReq{first}
	fill:
		for len(batch) < maxBatch {
			select {
			case r := <-c.reqs:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		c.commit(batch)
	}
}

// drain fails writes still queued at close.
func (c *committer) drain() {
	for {
		select {
		case r := <-c.reqs:
			r.done <- errClosed
		default:
			return
		}
	}
}

// commit runs a batch in one transaction and reports each write's outcome.
func (c *committer) commit(batch []*writeReq) {
	if len(batch) == 1 { // no savepoint needed for a lone write
		r := batch[0]
		r.done <- c.single(r)
		return
	}
	ctx := context.Background() // one caller's cancellation must not abort the others
	start := c.now()
	tx, err := c.db.BeginTx(ctx, c.opts)
	if err != nil {
		finish(batch, err)
		return
	}
	for _, r := range batch {
		r.err = c.inSavepoint(ctx, tx, r)
	}
	if err := tx.Commit(); err != nil {
		finish(batch, fmt.Errorf("commit: %w", err))
		return
	}
	c.commits.Add(1)
	c.metrics.committed(len(batch), c.now().Sub(start))
	for _, r := range batch {
		r.done <- r.err
	}
}

func (c *committer) single(r *writeReq) error {
	if err := r.ctx.Err(); err != nil {
		return err
	}
	ctx := context.WithoutCancel(r.ctx)
	start := c.now()
	tx, err := c.db.BeginTx(ctx, c.opts)
	if err != nil {
		return err
	}
	if err := r.fn(ctx, tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	c.commits.Add(1)
	c.metrics.committed(1, c.now().Sub(start))
	return nil
}

// inSavepoint runs one write so that its failure undoes only its own changes.
func (c *committer) inSavepoint(ctx context.Context, tx *sql.Tx, r *writeReq) error {
	if err := r.ctx.Err(); err != nil {
		return err // abandoned before it ran: do nothing
	}
	if _, err := tx.ExecContext(ctx, "SAVEPOINT w"); err != nil {
		return err
	}
	if err := r.fn(context.WithoutCancel(r.ctx), tx); err != nil {
		if _, rerr := tx.ExecContext(ctx, "ROLLBACK TO w"); rerr != nil {
			return errors.Join(err, rerr)
		}
		_, _ = tx.ExecContext(ctx, "RELEASE w")
		return err
	}
	_, err := tx.ExecContext(ctx, "RELEASE w")
	return err
}

// finish reports one error to every write of a failed batch.
func finish(batch []*writeReq, err error) {
	for _, r := range batch {
		r.done <- err
	}
}
