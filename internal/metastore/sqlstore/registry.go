package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/berth-registry/berth/internal/metastore"
)

// GetRegistryPolicy returns the account's registry policy text; ErrNotFound
// when it has none or the account does not exist.
func (s *Store) GetRegistryPolicy(ctx context.Context, accountID string) (string, error) {
	var text string
	err := s.reader.QueryRowContext(ctx, s.q.getRegistryPolicy, accountID).Scan(&text)
	return text, s.fail("get registry policy", err)
}

// PutRegistryPolicy stores text as the account's registry policy, replacing
// any; ErrNotFound when the account does not exist.
func (s *Store) PutRegistryPolicy(ctx context.Context, accountID, text string) error {
	_, err := s.exec(ctx, s.q.putRegistryPolicy, accountID, text, nanos(s.now()))
	return s.fail("put registry policy", err)
}

// DeleteRegistryPolicy removes the registry policy and returns its text;
// ErrNotFound when there was none.
func (s *Store) DeleteRegistryPolicy(ctx context.Context, accountID string) (string, error) {
	var text string
	err := s.write(ctx, "delete registry policy", func(ctx context.Context, tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, s.q.deleteRegistryPolicy, accountID).Scan(&text)
	})
	if err != nil {
		return "", err
	}
	return text, nil
}

// GetAccountSetting returns a setting's value; ErrNotFound when it was never
// put or the account does not exist.
func (s *Store) GetAccountSetting(ctx context.Context, accountID, name string) (string, error) {
	var value string
	err := s.reader.QueryRowContext(ctx, s.q.getAccountSetting, accountID, name).Scan(&value)
	return value, s.fail("get account setting", err)
}

// PutAccountSetting stores a setting, replacing its value; ErrNotFound when
// the account does not exist.
func (s *Store) PutAccountSetting(ctx context.Context, accountID, name, value string) error {
	_, err := s.exec(ctx, s.q.putAccountSetting, accountID, name, value)
	return s.fail("put account setting", err)
}

// CreateSigningKey stores k; CreatedAt defaults to now. ErrAlreadyExists
// when the id is taken.
func (s *Store) CreateSigningKey(ctx context.Context, k metastore.SigningKey) error {
	if k.CreatedAt.IsZero() {
		k.CreatedAt = s.now()
	}
	_, err := s.exec(ctx, s.q.insertSigningKey, k.ID, nonNil(k.SecretCiphertext), nanos(k.CreatedAt))
	return s.fail("create signing key", err)
}

// ListSigningKeys returns every key, newest first (ties by id, descending).
func (s *Store) ListSigningKeys(ctx context.Context) ([]metastore.SigningKey, error) {
	out, err := queryAll(ctx, s.reader, scanSigningKey, s.q.listSigningKeys)
	return out, s.fail("list signing keys", err)
}

// DeleteSigningKeysBefore removes the keys created strictly before t.
func (s *Store) DeleteSigningKeysBefore(ctx context.Context, t time.Time) error {
	_, err := s.exec(ctx, s.q.deleteSigningKeysBefore, nanos(t))
	return s.fail("delete signing keys", err)
}

func scanSigningKey(r scanner) (metastore.SigningKey, error) {
	var k metastore.SigningKey
	var created int64
	if err := r.Scan(&k.ID, &k.SecretCiphertext, &created); err != nil {
		return metastore.SigningKey{}, err
	}
	k.CreatedAt = fromNanos(created)
	return k, nil
}
