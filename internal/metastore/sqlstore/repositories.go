package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/berth-registry/berth/internal/metastore"
)

// errBadLimit rejects unbounded listings: callers always page.
var errBadLimit = errors.New("page limit must be positive")

// CreateRepository stores r and assigns r.ID (never reused, any input value
// is ignored); CreatedAt defaults to now. ErrAlreadyExists when the name is
// taken in the account, ErrNotFound when the account does not exist.
func (s *Store) CreateRepository(ctx context.Context, r *metastore.Repository) error {
	if r.CreatedAt.IsZero() {
		r.CreatedAt = s.now()
	}
	var id int64
	err := s.write(ctx, "create repository", func(ctx context.Context, tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, s.q.insertRepository, r.AccountID, r.Name, nanos(r.CreatedAt),
			r.ImageTagMutability, r.ScanOnPush, r.EncryptionType, r.KMSKey, joinLines(r.TagMutabilityExclusions)).Scan(&id)
	})
	if err != nil {
		return err
	}
	r.ID = id
	return nil
}

// GetRepository returns the repository or ErrNotFound.
func (s *Store) GetRepository(ctx context.Context, accountID, name string) (metastore.Repository, error) {
	r, err := scanRepository(s.rs.getRepository.QueryRowContext(ctx, accountID, name))
	return r, s.fail("get repository", err)
}

// ListRepositories returns up to p.Limit repositories named after p.Last, in
// byte order.
func (s *Store) ListRepositories(ctx context.Context, accountID string, p metastore.Page) ([]metastore.Repository, error) {
	if p.Limit <= 0 {
		return nil, s.fail("list repositories", errBadLimit)
	}
	out, err := queryAll(ctx, s.reader, scanRepository, s.q.listRepositories, accountID, after(p), p.Limit)
	return out, s.fail("list repositories", err)
}

// DeleteRepository removes the repository; ErrNotFound if missing. Without
// force, ErrRepositoryNotEmpty while it holds a manifest; with force its
// manifests, tags, blob links and uploads go too (ON DELETE CASCADE).
// It writes no image events (ECR documents none for a repository deletion);
// events already written stay in the outbox and are still delivered.
func (s *Store) DeleteRepository(ctx context.Context, id int64, force bool) error {
	return s.write(ctx, "delete repository", func(ctx context.Context, tx *sql.Tx) error {
		if !force {
			full, err := exists(ctx, tx, s.q.repositoryHasManifest, id)
			if err != nil {
				return err
			}
			if full {
				return metastore.ErrRepositoryNotEmpty
			}
		}
		n, err := execTx(ctx, tx, s.q.deleteRepository, id)
		return notFoundIfNone(n, err)
	})
}

// requireRepository returns ErrNotFound unless the repository exists.
func (s *Store) requireRepository(ctx context.Context, tx *sql.Tx, id int64) error {
	ok, err := exists(ctx, tx, s.q.repositoryExists, id)
	if err == nil && !ok {
		return fmt.Errorf("repository %d: %w", id, metastore.ErrNotFound)
	}
	return err
}

func scanRepository(r scanner) (metastore.Repository, error) {
	var repo metastore.Repository
	var created int64
	var exclusions string
	err := r.Scan(&repo.ID, &repo.AccountID, &repo.Name, &created, &repo.ImageTagMutability,
		&repo.ScanOnPush, &repo.EncryptionType, &repo.KMSKey, &exclusions)
	if err != nil {
		return metastore.Repository{}, err
	}
	repo.CreatedAt = fromNanos(created)
	if exclusions != "" {
		repo.TagMutabilityExclusions = strings.Split(exclusions, "\n")
	}
	return repo, nil
}

// joinLines stores a list of newline-free values in one column.
func joinLines(values []string) string { return strings.Join(values, "\n") }

// execTx runs one statement in tx and returns the affected rows.
func execTx(ctx context.Context, tx *sql.Tx, query string, args ...any) (int64, error) {
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
