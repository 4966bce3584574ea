package sqlstore

import (
	"context"
	"database/sql"

	"github.com/berth-registry/berth/internal/metastore"
)

// CreateAccount stores a; CreatedAt defaults to now. ErrAlreadyExists when
// the id is taken.
func (s *Store) CreateAccount(ctx context.Context, a metastore.Account) error {
	if a.CreatedAt.IsZero() {
		a.CreatedAt = s.now()
	}
	_, err := s.exec(ctx, s.q.insertAccount, a.ID, nanos(a.CreatedAt))
	return s.fail("create account", err)
}

// GetAccount returns the account or ErrNotFound.
func (s *Store) GetAccount(ctx context.Context, id string) (metastore.Account, error) {
	a, err := scanAccount(s.reader.QueryRowContext(ctx, s.q.getAccount, id))
	return a, s.fail("get account", err)
}

// ListAccounts returns every account ordered by id.
func (s *Store) ListAccounts(ctx context.Context) ([]metastore.Account, error) {
	out, err := queryAll(ctx, s.reader, scanAccount, s.q.listAccounts)
	return out, s.fail("list accounts", err)
}

// DeleteAccount removes the account and, through ON DELETE CASCADE, every
// row it owns: keys, repositories (with their manifests, tags, blob links,
// uploads, resource tags and policies), registry policy, settings, IAM users,
// tags, policies and attachments. Blobs stay for GC. ErrNotFound if missing.
func (s *Store) DeleteAccount(ctx context.Context, id string) error {
	return s.fail("delete account", notFoundIfNone(s.exec(ctx, s.q.deleteAccount, id)))
}

// CreateAccessKey stores k; CreatedAt defaults to now. ErrAlreadyExists when
// the key id is taken, ErrNotFound when the account does not exist.
func (s *Store) CreateAccessKey(ctx context.Context, k metastore.AccessKey) error {
	if k.CreatedAt.IsZero() {
		k.CreatedAt = s.now()
	}
	_, err := s.exec(ctx, s.q.insertAccessKey, k.ID, k.AccountID, k.UserName,
		nonNil(k.SecretCiphertext), k.Active, nanos(k.CreatedAt))
	return s.fail("create access key", err)
}

// GetAccessKey returns the key or ErrNotFound.
func (s *Store) GetAccessKey(ctx context.Context, id string) (metastore.AccessKey, error) {
	k, err := scanAccessKey(s.rs.getAccessKey.QueryRowContext(ctx, id))
	return k, s.fail("get access key", err)
}

// ListAccessKeys returns the keys of one principal (userName "" is the
// account root) in the order they were created.
func (s *Store) ListAccessKeys(ctx context.Context, accountID, userName string) ([]metastore.AccessKey, error) {
	out, err := queryAll(ctx, s.reader, scanAccessKey, s.q.listAccessKeys, accountID, userName)
	return out, s.fail("list access keys", err)
}

// SetAccessKeyActive activates or deactivates a key; ErrNotFound if missing.
func (s *Store) SetAccessKeyActive(ctx context.Context, id string, active bool) error {
	return s.fail("set access key status", notFoundIfNone(s.exec(ctx, s.q.setAccessKeyActive, active, id)))
}

// DeleteAccessKey removes a key; ErrNotFound if missing.
func (s *Store) DeleteAccessKey(ctx context.Context, id string) error {
	return s.fail("delete access key", notFoundIfNone(s.exec(ctx, s.q.deleteAccessKey, id)))
}

// scanner is *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

func scanAccount(r scanner) (metastore.Account, error) {
	var a metastore.Account
	var created int64
	if err := r.Scan(&a.ID, &created); err != nil {
		return metastore.Account{}, err
	}
	a.CreatedAt = fromNanos(created)
	return a, nil
}

func scanAccessKey(r scanner) (metastore.AccessKey, error) {
	var k metastore.AccessKey
	var created int64
	if err := r.Scan(&k.ID, &k.AccountID, &k.UserName, &k.SecretCiphertext, &k.Active, &created, &k.UserID, &k.UserPath); err != nil {
		return metastore.AccessKey{}, err
	}
	k.CreatedAt = fromNanos(created)
	return k, nil
}

// querier is *sql.DB, *sql.Tx or *sql.Conn.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// queryAll runs query and scans every row with scan.
func queryAll[T any](ctx context.Context, db querier, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	return collect(rows, err, scan)
}

// collect scans every row of the result (rows, err) of a query, such as a
// prepared statement's, with scan.
func collect[T any](rows *sql.Rows, err error, scan func(scanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
