package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"
)

// LinkBlob records d as committed (size must match an earlier record of d)
// and links it to the repository; linking again refreshes linked_at, which
// garbage collection's grace period counts from. ErrNotFound when the
// repository does not exist.
func (s *Store) LinkBlob(ctx context.Context, repoID int64, d digest.Digest, size int64) error {
	return s.write(ctx, "link blob", func(ctx context.Context, tx *sql.Tx) error {
		return s.linkBlob(ctx, tx, repoID, d, size)
	})
}

func (s *Store) linkBlob(ctx context.Context, tx *sql.Tx, repoID int64, d digest.Digest, size int64) error {
	var known int64
	err := tx.QueryRowContext(ctx, s.q.blobSizeAny, d.String()).Scan(&known)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return err
	case known != size:
		return fmt.Errorf("blob %s: size %d differs from recorded size %d", d, size, known)
	}
	now := nanos(s.now())
	if _, err := tx.ExecContext(ctx, s.q.insertBlob, d.String(), size, now); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, s.q.linkBlob, repoID, d.String(), now)
	return err
}

// BlobSize returns the size of d if it is linked to the repository, else
// ErrNotFound.
func (s *Store) BlobSize(ctx context.Context, repoID int64, d digest.Digest) (int64, error) {
	var size int64
	err := s.rs.blobSize.QueryRowContext(ctx, repoID, d.String()).Scan(&size)
	return size, s.fail("blob size", err)
}

// UnlinkBlob removes the link; ErrNotFound when there was none. The blob
// stays in the global set until garbage collection.
func (s *Store) UnlinkBlob(ctx context.Context, repoID int64, d digest.Digest) error {
	return s.fail("unlink blob", notFoundIfNone(s.exec(ctx, s.q.unlinkBlob, repoID, d.String())))
}

// BlobHolders names up to limit repositories of the account linking d.
func (s *Store) BlobHolders(ctx context.Context, accountID string, d digest.Digest, limit int) ([]string, error) {
	if limit <= 0 {
		return nil, s.fail("blob holders", errBadLimit)
	}
	rows, err := s.reader.QueryContext(ctx, s.q.blobHolders, d.String(), accountID, limit)
	if err != nil {
		return nil, s.fail("blob holders", err)
	}
	defer rows.Close()
	names := []string{}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, s.fail("blob holders", err)
		}
		names = append(names, n)
	}
	return names, s.fail("blob holders", rows.Err())
}
