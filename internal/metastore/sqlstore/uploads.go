package sqlstore

import (
	"context"
	"database/sql"
	"github.com/opencontainers/go-digest"
	"time"

	"github.com/berth-registry/berth/internal/metastore"
)

// CreateUpload stores a new session; CreatedAt and UpdatedAt default to now.
// ErrAlreadyExists when the id is taken, ErrNotFound when the repository
// does not exist.
func (s *Store) CreateUpload(ctx context.Context, u metastore.Upload) error {
	now := s.now()
	if u.CreatedAt.IsZero() {
		u.CreatedAt = now
	}
	if u.UpdatedAt.IsZero() {
		u.UpdatedAt = u.CreatedAt
	}
	_, err := s.exec(ctx, s.q.insertUpload, u.ID, u.RepositoryID, u.Offset, u.HashState, u.Algorithm,
		u.StoreState, nanos(u.CreatedAt), nanos(u.UpdatedAt), u.Parts, u.LastPartSize, u.SmallPart)
	return s.fail("create upload", err)
}

// GetUpload returns the session; ErrNotFound when missing or when it belongs
// to another repository.
func (s *Store) GetUpload(ctx context.Context, repoID int64, id string) (metastore.Upload, error) {
	u, err := scanUpload(s.reader.QueryRowContext(ctx, s.q.getUpload, repoID, id))
	return u, s.fail("get upload", err)
}

// UpdateUpload stores u's Offset, HashState and StoreState if the stored
// offset is still prevOffset (compare-and-swap), and stamps UpdatedAt with
// the store clock (u.UpdatedAt is ignored). ErrConflict when another writer
// moved the offset, ErrNotFound when the session is gone.
func (s *Store) UpdateUpload(ctx context.Context, u metastore.Upload, prevOffset int64) error {
	return s.write(ctx, "update upload", func(ctx context.Context, tx *sql.Tx) error {
		n, err := execTx(ctx, tx, s.q.updateUpload, u.Offset, u.HashState, u.StoreState, nanos(s.now()),
			u.Parts, u.LastPartSize, u.SmallPart, u.RepositoryID, u.ID, prevOffset)
		if err != nil || n > 0 {
			return err
		}
		var stored int64
		if err := tx.QueryRowContext(ctx, s.q.uploadOffset, u.RepositoryID, u.ID).Scan(&stored); err != nil {
			return err // sql.ErrNoRows becomes ErrNotFound
		}
		return metastore.ErrConflict
	})
}

// DeleteUpload removes a session; deleting a missing one is not an error.
func (s *Store) DeleteUpload(ctx context.Context, id string) error {
	_, err := s.exec(ctx, s.q.deleteUpload, id)
	return s.fail("delete upload", err)
}

// FinishUpload links the completed blob (as LinkBlob) and deletes the
// session in one transaction.
func (s *Store) FinishUpload(ctx context.Context, id string, repoID int64, d digest.Digest, size int64, stored metastore.BlobStored) error {
	return s.write(ctx, "finish upload", func(ctx context.Context, tx *sql.Tx) error {
		if err := s.linkBlob(ctx, tx, repoID, d, size, stored); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.q.deleteUpload, id)
		return err
	})
}

// ExpiredUploads returns up to limit sessions last updated before before,
// oldest first.
func (s *Store) ExpiredUploads(ctx context.Context, before time.Time, limit int) ([]metastore.Upload, error) {
	if limit <= 0 {
		return nil, s.fail("expired uploads", errBadLimit)
	}
	out, err := queryAll(ctx, s.reader, scanUpload, s.q.expiredUploads, nanos(before), limit)
	return out, s.fail("expired uploads", err)
}

// UploadStats counts the sessions with one scan of the uploads table, which
// holds only uploads in progress (expiry removes idle ones).
func (s *Store) UploadStats(ctx context.Context) (metastore.UploadStats, error) {
	var st metastore.UploadStats
	err := s.reader.QueryRowContext(ctx, "SELECT COUNT(*), COALESCE(SUM(byte_offset), 0) FROM uploads").Scan(&st.Open, &st.Bytes)
	return st, s.fail("upload stats", err)
}

func scanUpload(r scanner) (metastore.Upload, error) {
	var u metastore.Upload
	var created, updated int64
	err := r.Scan(&u.ID, &u.RepositoryID, &u.Offset, &u.HashState, &u.Algorithm, &u.StoreState, &created, &updated,
		&u.Parts, &u.LastPartSize, &u.SmallPart)
	if err != nil {
		return metastore.Upload{}, err
	}
	u.CreatedAt, u.UpdatedAt = fromNanos(created), fromNanos(updated)
	return u, nil
}
