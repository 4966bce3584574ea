package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/berth-registry/berth/internal/metastore"
)

// UpdateRepositorySettings stores r's ImageTagMutability and ScanOnPush;
// ErrNotFound when the repository is gone.
func (s *Store) UpdateRepositorySettings(ctx context.Context, r metastore.Repository) error {
	n, err := s.exec(ctx, s.q.updateRepositorySettings, r.ImageTagMutability, r.ScanOnPush,
		joinLines(r.TagMutabilityExclusions), r.ID)
	return s.fail("update repository settings", notFoundIfNone(n, err))
}

// ListResourceTags returns the repository's resource tags ordered by key
// (byte order); ErrNotFound when the repository does not exist.
func (s *Store) ListResourceTags(ctx context.Context, repoID int64) ([]metastore.ResourceTag, error) {
	rows, err := queryAll(ctx, s.reader, scanOptionalResourceTag, s.q.listResourceTags, repoID)
	if err != nil {
		return nil, s.fail("list resource tags", err)
	}
	if len(rows) == 0 { // the repository row itself is missing
		return nil, s.fail("list resource tags", fmt.Errorf("repository %d: %w", repoID, metastore.ErrNotFound))
	}
	out := make([]metastore.ResourceTag, 0, len(rows))
	for _, t := range rows {
		if t.Valid {
			out = append(out, t.ResourceTag)
		}
	}
	return out, nil
}

// TagResource upserts tags and then counts the repository's tags: above
// maxTags the write returns ErrTooManyTags and is rolled back whole, so no
// tag changes. ErrNotFound when the repository does not exist.
func (s *Store) TagResource(ctx context.Context, repoID int64, tags []metastore.ResourceTag, maxTags int) error {
	return s.write(ctx, "tag resource", func(ctx context.Context, tx *sql.Tx) error {
		if err := s.requireRepository(ctx, tx, repoID); err != nil {
			return err
		}
		for _, t := range tags {
			if _, err := tx.ExecContext(ctx, s.q.upsertResourceTag, repoID, t.Key, t.Value); err != nil {
				return err
			}
		}
		var n int
		if err := tx.QueryRowContext(ctx, s.q.countResourceTags, repoID).Scan(&n); err != nil {
			return err
		}
		if n > maxTags {
			return fmt.Errorf("repository %d would carry %d tags, limit %d: %w", repoID, n, maxTags, metastore.ErrTooManyTags)
		}
		return nil
	})
}

// UntagResource removes the keys; absent keys are ignored. ErrNotFound when
// the repository does not exist.
func (s *Store) UntagResource(ctx context.Context, repoID int64, keys []string) error {
	return s.write(ctx, "untag resource", func(ctx context.Context, tx *sql.Tx) error {
		if err := s.requireRepository(ctx, tx, repoID); err != nil {
			return err
		}
		for _, k := range keys {
			if _, err := tx.ExecContext(ctx, s.q.deleteResourceTag, repoID, k); err != nil {
				return err
			}
		}
		return nil
	})
}

// GetRepositoryPolicy returns the policy text; ErrNotFound when the
// repository has none or does not exist.
func (s *Store) GetRepositoryPolicy(ctx context.Context, repoID int64) (string, error) {
	var text string
	err := s.reader.QueryRowContext(ctx, s.q.getRepositoryPolicy, repoID).Scan(&text)
	return text, s.fail("get repository policy", err)
}

// SetRepositoryPolicy stores text as the repository's policy, replacing any;
// ErrNotFound when the repository does not exist.
func (s *Store) SetRepositoryPolicy(ctx context.Context, repoID int64, text string) error {
	_, err := s.exec(ctx, s.q.setRepositoryPolicy, repoID, text, nanos(s.now()))
	return s.fail("set repository policy", err)
}

// DeleteRepositoryPolicy removes the policy and returns its text;
// ErrNotFound when there was none.
func (s *Store) DeleteRepositoryPolicy(ctx context.Context, repoID int64) (string, error) {
	var text string
	err := s.write(ctx, "delete repository policy", func(ctx context.Context, tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, s.q.deleteRepositoryPolicy, repoID).Scan(&text)
	})
	if err != nil {
		return "", err
	}
	return text, nil
}

// optionalResourceTag is one row of a LEFT JOIN: Valid is false for the row
// of a repository without tags.
type optionalResourceTag struct {
	metastore.ResourceTag
	Valid bool
}

func scanOptionalResourceTag(r scanner) (optionalResourceTag, error) {
	var key, value sql.NullString
	if err := r.Scan(&key, &value); err != nil {
		return optionalResourceTag{}, err
	}
	return optionalResourceTag{metastore.ResourceTag{Key: key.String, Value: value.String}, key.Valid}, nil
}
