package sqlstore

import (
	"context"
	"database/sql"

	"github.com/berth-registry/berth/internal/metastore"
)

// clusterQueries are the statements of ClusterStore.
type clusterQueries struct {
	insertValue, getValue, countRootKeys string
}

func newClusterQueries(d dialect) clusterQueries {
	return clusterQueries{
		insertValue:   d.rebind(d.insertIgnore("cluster_values", []string{"name", "value", "created_at"}, []string{"name"})),
		getValue:      d.rebind("SELECT value FROM cluster_values WHERE name = ?"),
		countRootKeys: d.rebind("SELECT count(*) FROM access_keys WHERE account_id = ? AND user_name = ''"),
	}
}

// InitClusterValue inserts value unless name has one and returns the
// stored value, in one transaction.
func (s *Store) InitClusterValue(ctx context.Context, name string, value []byte) ([]byte, error) {
	var stored []byte
	err := s.write(ctx, "init cluster value", func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.cq.insertValue, name, nonNil(value), nanos(s.now())); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, s.cq.getValue, name).Scan(&stored)
	})
	return stored, err
}

// CreateFirstRootKey inserts k when its account has no root key. Two nodes
// racing both see none in their transactions; SERIALIZABLE on PostgreSQL
// aborts one (retried, it then sees the other's key), and SQLite's single
// writer orders them.
func (s *Store) CreateFirstRootKey(ctx context.Context, k metastore.AccessKey) (bool, error) {
	if k.CreatedAt.IsZero() {
		k.CreatedAt = s.now()
	}
	var created bool
	err := s.write(ctx, "create first root key", func(ctx context.Context, tx *sql.Tx) error {
		created = false
		var n int
		if err := tx.QueryRowContext(ctx, s.cq.countRootKeys, k.AccountID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
		if _, err := tx.ExecContext(ctx, s.q.insertAccessKey, k.ID, k.AccountID, "",
			nonNil(k.SecretCiphertext), k.Active, nanos(k.CreatedAt)); err != nil {
			return err
		}
		created = true
		return nil
	})
	return created, err
}
