package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/berth-registry/berth/internal/metastore"
	"github.com/opencontainers/go-digest"
)

// LinkBlob records d as committed (size must match an earlier record of d)
// and links it to the repository; linking again refreshes linked_at, which
// garbage collection's grace period counts from. ErrNotFound when the
// repository does not exist, ErrBlobDeleting when garbage collection is
// deleting d or (asked through stored) its bytes are gone.
func (s *Store) LinkBlob(ctx context.Context, repoID int64, d digest.Digest, size int64, stored metastore.BlobStored) error {
	return s.write(ctx, "link blob", func(ctx context.Context, tx *sql.Tx) error {
		return s.linkBlob(ctx, tx, repoID, d, size, stored)
	})
}

// linkBlob is LinkBlob inside tx. A marked record (deleting_at > 0) has no
// link and gains none; a record is created only after stored confirmed the
// bytes inside this transaction: a collection deletes bytes only after
// marking their record, which this transaction orders before or after
// itself, so bytes seen here were stored after any deletion and stay.
func (s *Store) linkBlob(ctx context.Context, tx *sql.Tx, repoID int64, d digest.Digest, size int64, stored metastore.BlobStored) error {
	var known, deleting int64
	err := tx.QueryRowContext(ctx, s.q.blobSizeAny, d.String()).Scan(&known, &deleting)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if err := checkStored(ctx, stored, d); err != nil {
			return err
		}
	case err != nil:
		return err
	case deleting != 0:
		return fmt.Errorf("blob %s: %w", d, metastore.ErrBlobDeleting)
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

// checkStored asks stored (when given) whether d's bytes are in the blob
// store; absent bytes are ErrBlobDeleting.
func checkStored(ctx context.Context, stored metastore.BlobStored, d digest.Digest) error {
	if stored == nil {
		return nil
	}
	ok, err := stored(ctx, d)
	if err != nil {
		return fmt.Errorf("blob %s: check the blob store: %w", d, err)
	}
	if !ok {
		return fmt.Errorf("blob %s: its bytes were just deleted: %w", d, metastore.ErrBlobDeleting)
	}
	return nil
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
