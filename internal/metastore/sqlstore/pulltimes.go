package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/berth-registry/berth/internal/metastore"
)

// pullTimeBatch bounds the images one RecordPullTimes transaction updates,
// so a large flush does not hold the writer for long at a time.
const pullTimeBatch = 500

// RecordPullTimes moves LastPulledAt forward, pullTimeBatch images per
// write transaction.
func (s *Store) RecordPullTimes(ctx context.Context, pulls []metastore.PullTime, minAdvance time.Duration) (int, error) {
	total := 0
	for chunk := range slices.Chunk(pulls, pullTimeBatch) {
		n := 0
		err := s.write(ctx, "record pull times", func(ctx context.Context, tx *sql.Tx) error {
			n = 0
			for _, p := range chunk {
				k, err := execTx(ctx, tx, s.sq.recordPull, nanos(p.At), p.RepositoryID, p.Digest.String(),
					nanos(p.At.Add(-minAdvance)))
				if err != nil {
					return err
				}
				n += int(k)
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}

// RegisterPullTimeExclusion inserts e and then counts the account's
// exclusions: above max the write is rolled back whole.
func (s *Store) RegisterPullTimeExclusion(ctx context.Context, e metastore.PullTimeExclusion, max int) (metastore.PullTimeExclusion, error) {
	if e.CreatedAt.IsZero() {
		e.CreatedAt = s.now()
	}
	e.CreatedAt = e.CreatedAt.UTC()
	err := s.write(ctx, "register pull time exclusion", func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.sq.insertExclusion, e.AccountID, e.PrincipalARN, nanos(e.CreatedAt)); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, s.sq.countExclusions, e.AccountID).Scan(&n); err != nil {
			return err
		}
		if n > max {
			return fmt.Errorf("account %s would hold %d exclusions, limit %d: %w", e.AccountID, n, max, metastore.ErrTooManyExclusions)
		}
		return nil
	})
	if err != nil {
		return metastore.PullTimeExclusion{}, err
	}
	return e, nil
}

// DeregisterPullTimeExclusion removes one exclusion; ErrNotFound if absent.
func (s *Store) DeregisterPullTimeExclusion(ctx context.Context, accountID, principalARN string) error {
	return s.fail("deregister pull time exclusion", notFoundIfNone(s.exec(ctx, s.sq.deleteExclusion, accountID, principalARN)))
}

// ListPullTimeExclusions returns a page of the account's exclusions by ARN.
func (s *Store) ListPullTimeExclusions(ctx context.Context, accountID string, p metastore.Page) ([]metastore.PullTimeExclusion, error) {
	if p.Limit <= 0 {
		return nil, s.fail("list pull time exclusions", errBadLimit)
	}
	out, err := queryAll(ctx, s.reader, scanExclusion, s.sq.listExclusions, accountID, after(p), p.Limit)
	return out, s.fail("list pull time exclusions", err)
}

func scanExclusion(r scanner) (metastore.PullTimeExclusion, error) {
	var e metastore.PullTimeExclusion
	var created int64
	if err := r.Scan(&e.AccountID, &e.PrincipalARN, &created); err != nil {
		return metastore.PullTimeExclusion{}, err
	}
	e.CreatedAt = fromNanos(created)
	return e, nil
}
