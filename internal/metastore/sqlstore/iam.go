package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/berth-registry/berth/internal/metastore"
)

// nameKey folds an IAM name or policy ARN for case-insensitive comparison:
// ASCII letters only, exactly as SQLite's lower() folds, since DeleteUser
// matches access_keys.user_name with lower(). IAM names are ASCII.
func nameKey(name string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return r
	}, name)
}

// rootPath is an IAM path defaulted to "/".
func rootPath(path string) string {
	if path == "" {
		return "/"
	}
	return path
}

// CreateUser stores u with its tags; CreatedAt defaults to now and Path to
// "/". ErrAlreadyExists when the name (case-insensitively) or the id is
// taken, ErrNotFound when the account does not exist.
func (s *Store) CreateUser(ctx context.Context, u metastore.User) error {
	if u.CreatedAt.IsZero() {
		u.CreatedAt = s.now()
	}
	key := nameKey(u.Name)
	return s.write(ctx, "create user", func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, s.q.insertUser, u.AccountID, u.Name, key, u.ID, rootPath(u.Path), nanos(u.CreatedAt))
		if err != nil {
			return err
		}
		for _, t := range u.Tags {
			if _, err := tx.ExecContext(ctx, s.q.upsertUserTag, u.AccountID, key, t.Key, t.Value); err != nil {
				return err
			}
		}
		return nil
	})
}

// GetUser returns the user (name as created, tags by key), looked up
// case-insensitively; ErrNotFound when missing.
func (s *Store) GetUser(ctx context.Context, accountID, name string) (metastore.User, error) {
	users, err := queryUsers(ctx, s.reader, s.q.getUser, accountID, nameKey(name))
	if err == nil && len(users) == 0 {
		err = fmt.Errorf("user %q: %w", name, metastore.ErrNotFound)
	}
	if err != nil {
		return metastore.User{}, s.fail("get user", err)
	}
	return users[0], nil
}

// ListUsers returns up to p.Limit users named after p.Last, in byte order,
// with their tags.
func (s *Store) ListUsers(ctx context.Context, accountID string, p metastore.Page) ([]metastore.User, error) {
	if p.Limit <= 0 {
		return nil, s.fail("list users", errBadLimit)
	}
	out, err := queryUsers(ctx, s.reader, s.q.listUsers, accountID, after(p), p.Limit)
	return out, s.fail("list users", err)
}

// DeleteUser removes the user and its tags; ErrNotFound when missing,
// ErrDeleteConflict while it has access keys, inline policies or attached
// policies.
func (s *Store) DeleteUser(ctx context.Context, accountID, name string) error {
	key := nameKey(name)
	return s.write(ctx, "delete user", func(ctx context.Context, tx *sql.Tx) error {
		var keys, inline, attached bool
		args := []any{accountID, key, accountID, key, accountID, key, accountID, key}
		if err := tx.QueryRowContext(ctx, s.q.userInUse, args...).Scan(&keys, &inline, &attached); err != nil {
			return err
		}
		var uses []string
		for _, u := range []struct {
			has  bool
			what string
		}{{keys, "access keys"}, {inline, "inline policies"}, {attached, "attached policies"}} {
			if u.has {
				uses = append(uses, u.what)
			}
		}
		if len(uses) > 0 {
			return fmt.Errorf("user %q has %s: %w", name, strings.Join(uses, ", "), metastore.ErrDeleteConflict)
		}
		_, err := tx.ExecContext(ctx, s.q.deleteUser, accountID, key)
		return err
	})
}

// TagUser upserts tags and then counts the user's tags: above maxTags the
// write returns ErrTooManyTags and is rolled back whole. ErrNotFound when
// the user does not exist.
func (s *Store) TagUser(ctx context.Context, accountID, name string, tags []metastore.ResourceTag, maxTags int) error {
	key := nameKey(name)
	return s.write(ctx, "tag user", func(ctx context.Context, tx *sql.Tx) error {
		if err := s.requireUser(ctx, tx, accountID, name); err != nil {
			return err
		}
		for _, t := range tags {
			if _, err := tx.ExecContext(ctx, s.q.upsertUserTag, accountID, key, t.Key, t.Value); err != nil {
				return err
			}
		}
		var n int
		if err := tx.QueryRowContext(ctx, s.q.countUserTags, accountID, key).Scan(&n); err != nil {
			return err
		}
		if n > maxTags {
			return fmt.Errorf("user %q would carry %d tags, limit %d: %w", name, n, maxTags, metastore.ErrTooManyTags)
		}
		return nil
	})
}

// UntagUser removes the keys; absent keys are ignored. ErrNotFound when the
// user does not exist.
func (s *Store) UntagUser(ctx context.Context, accountID, name string, keys []string) error {
	key := nameKey(name)
	return s.write(ctx, "untag user", func(ctx context.Context, tx *sql.Tx) error {
		if err := s.requireUser(ctx, tx, accountID, name); err != nil {
			return err
		}
		for _, k := range keys {
			if _, err := tx.ExecContext(ctx, s.q.deleteUserTag, accountID, key, k); err != nil {
				return err
			}
		}
		return nil
	})
}

// PutUserPolicy creates an inline policy or replaces its document (the
// name stays as first put); ErrNotFound when the user does not exist.
func (s *Store) PutUserPolicy(ctx context.Context, accountID, user string, p metastore.InlinePolicy) error {
	_, err := s.exec(ctx, s.q.putUserPolicy, accountID, nameKey(user), p.Name, nameKey(p.Name), p.Document)
	return s.fail("put user policy", err)
}

// GetUserPolicy returns an inline policy looked up case-insensitively;
// ErrNotFound when the user or the policy does not exist.
func (s *Store) GetUserPolicy(ctx context.Context, accountID, user, name string) (metastore.InlinePolicy, error) {
	var p metastore.InlinePolicy
	err := s.reader.QueryRowContext(ctx, s.q.getUserPolicy, accountID, nameKey(user), nameKey(name)).Scan(&p.Name, &p.Document)
	return p, s.fail("get user policy", err)
}

// ListUserPolicies returns the user's inline policy names in byte order;
// ErrNotFound when the user does not exist.
func (s *Store) ListUserPolicies(ctx context.Context, accountID, user string) ([]string, error) {
	out, err := s.listOfUser(ctx, s.q.listUserPolicies, accountID, user)
	return out, s.fail("list user policies", err)
}

// DeleteUserPolicy removes an inline policy; ErrNotFound when missing.
func (s *Store) DeleteUserPolicy(ctx context.Context, accountID, user, name string) error {
	n, err := s.exec(ctx, s.q.deleteUserPolicy, accountID, nameKey(user), nameKey(name))
	return s.fail("delete user policy", notFoundIfNone(n, err))
}

// CreatePolicy stores a customer-managed policy under its ARN; CreatedAt
// defaults to now, UpdatedAt to CreatedAt and Path to "/". ErrAlreadyExists
// when the name (case-insensitively) or the id is taken, ErrNotFound when
// the account does not exist.
func (s *Store) CreatePolicy(ctx context.Context, p metastore.ManagedPolicy) error {
	if p.CreatedAt.IsZero() {
		p.CreatedAt = s.now()
	}
	if p.UpdatedAt.IsZero() {
		p.UpdatedAt = p.CreatedAt
	}
	p.Path = rootPath(p.Path)
	_, err := s.exec(ctx, s.q.insertPolicy, p.AccountID, p.Name, nameKey(p.Name), nameKey(p.ARN()), p.ID,
		p.Path, p.Description, p.Document, nanos(p.CreatedAt), nanos(p.UpdatedAt))
	return s.fail("create policy", err)
}

// GetPolicy returns a customer-managed policy looked up case-insensitively,
// with its attachment count; ErrNotFound when missing.
func (s *Store) GetPolicy(ctx context.Context, accountID, name string) (metastore.ManagedPolicy, error) {
	p, err := scanPolicy(s.reader.QueryRowContext(ctx, s.q.getPolicy, accountID, nameKey(name)))
	return p, s.fail("get policy", err)
}

// ListPolicies returns up to p.Limit customer-managed policies named after
// p.Last, in byte order.
func (s *Store) ListPolicies(ctx context.Context, accountID string, p metastore.Page) ([]metastore.ManagedPolicy, error) {
	if p.Limit <= 0 {
		return nil, s.fail("list policies", errBadLimit)
	}
	out, err := queryAll(ctx, s.reader, scanPolicy, s.q.listPolicies, accountID, after(p), p.Limit)
	return out, s.fail("list policies", err)
}

// DeletePolicy removes a customer-managed policy; ErrNotFound when missing,
// ErrDeleteConflict while it is attached to a user.
func (s *Store) DeletePolicy(ctx context.Context, accountID, name string) error {
	key := nameKey(name)
	return s.write(ctx, "delete policy", func(ctx context.Context, tx *sql.Tx) error {
		var arnKey string
		if err := tx.QueryRowContext(ctx, s.q.policyARNKey, accountID, key).Scan(&arnKey); err != nil {
			return err
		}
		attached, err := exists(ctx, tx, s.q.policyAttached, accountID, arnKey)
		if err != nil {
			return err
		}
		if attached {
			return fmt.Errorf("policy %q is attached: %w", name, metastore.ErrDeleteConflict)
		}
		_, err = tx.ExecContext(ctx, s.q.deletePolicy, accountID, key)
		return err
	})
}

// AttachUserPolicy attaches a policy by ARN; attaching it again (in any
// case) changes nothing. ErrNotFound when the user does not exist or when
// the ARN is a customer-managed one of the account naming no policy.
func (s *Store) AttachUserPolicy(ctx context.Context, accountID, user, policyARN string) error {
	key := nameKey(policyARN)
	own := strings.HasPrefix(key, nameKey(metastore.ManagedPolicy{AccountID: accountID}.ARN()))
	return s.write(ctx, "attach user policy", func(ctx context.Context, tx *sql.Tx) error {
		if own {
			ok, err := exists(ctx, tx, s.q.policyARNExists, accountID, key)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("policy %s: %w", policyARN, metastore.ErrNotFound)
			}
		}
		// A missing user fails the foreign key: ErrNotFound.
		_, err := tx.ExecContext(ctx, s.q.attachPolicy, accountID, nameKey(user), policyARN, key, nanos(s.now()))
		return err
	})
}

// DetachUserPolicy removes an attachment (ARN matched case-insensitively);
// ErrNotFound when the policy is not attached to the user.
func (s *Store) DetachUserPolicy(ctx context.Context, accountID, user, policyARN string) error {
	n, err := s.exec(ctx, s.q.detachPolicy, accountID, nameKey(user), nameKey(policyARN))
	return s.fail("detach user policy", notFoundIfNone(n, err))
}

// ListAttachedUserPolicies returns the ARNs attached to the user, as first
// attached, in byte order; ErrNotFound when the user does not exist.
func (s *Store) ListAttachedUserPolicies(ctx context.Context, accountID, user string) ([]string, error) {
	out, err := s.listOfUser(ctx, s.q.listAttachedPolicies, accountID, user)
	return out, s.fail("list attached user policies", err)
}

// IdentityPolicies returns the user's inline and attached customer-managed
// policy documents and the ARNs of its attached AWS-managed policies, in no
// particular order: one prepared statement, one read. A missing user has
// none.
func (s *Store) IdentityPolicies(ctx context.Context, accountID, user string) (docs, awsManaged []string, err error) {
	key := nameKey(user)
	rows, err := s.rs.identityPolicies.QueryContext(ctx, accountID, key, accountID, key)
	if err != nil {
		return nil, nil, s.fail("identity policies", err)
	}
	defer rows.Close()
	for rows.Next() {
		var doc, arn sql.NullString
		if err := rows.Scan(&doc, &arn); err != nil {
			return nil, nil, s.fail("identity policies", err)
		}
		if doc.Valid {
			docs = append(docs, doc.String)
		} else {
			awsManaged = append(awsManaged, arn.String)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, s.fail("identity policies", err)
	}
	return docs, awsManaged, nil
}

// requireUser returns ErrNotFound unless the user exists.
func (s *Store) requireUser(ctx context.Context, tx *sql.Tx, accountID, name string) error {
	ok, err := exists(ctx, tx, s.q.userExists, accountID, nameKey(name))
	if err == nil && !ok {
		return fmt.Errorf("user %q: %w", name, metastore.ErrNotFound)
	}
	return err
}

// listOfUser runs a query that yields one row of NULL for an existing user
// with nothing to list and no row for a missing user (ErrNotFound).
func (s *Store) listOfUser(ctx context.Context, query, accountID, user string) ([]string, error) {
	rows, err := queryAll(ctx, s.reader, scanNullString, query, accountID, nameKey(user))
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("user %q: %w", user, metastore.ErrNotFound)
	}
	out := make([]string, 0, len(rows))
	for _, r := range rows {
		if r.Valid {
			out = append(out, r.String)
		}
	}
	return out, nil
}

func scanNullString(r scanner) (sql.NullString, error) {
	var v sql.NullString
	err := r.Scan(&v)
	return v, err
}

// userTagRow is one row of users LEFT JOIN their tags.
type userTagRow struct {
	user metastore.User
	tag  optionalResourceTag
}

func scanUserTag(r scanner) (userTagRow, error) {
	var row userTagRow
	var created int64
	var key, value sql.NullString
	u := &row.user
	if err := r.Scan(&u.AccountID, &u.Name, &u.ID, &u.Path, &created, &key, &value); err != nil {
		return userTagRow{}, err
	}
	u.CreatedAt = fromNanos(created)
	row.tag = optionalResourceTag{metastore.ResourceTag{Key: key.String, Value: value.String}, key.Valid}
	return row, nil
}

// queryUsers runs a users-with-tags query ordered by user, then tag key,
// and folds each user's rows into one User.
func queryUsers(ctx context.Context, db querier, query string, args ...any) ([]metastore.User, error) {
	rows, err := queryAll(ctx, db, scanUserTag, query, args...)
	if err != nil {
		return nil, err
	}
	var out []metastore.User
	for _, r := range rows {
		if n := len(out); n == 0 || out[n-1].ID != r.user.ID {
			out = append(out, r.user)
		}
		if r.tag.Valid {
			last := &out[len(out)-1]
			last.Tags = append(last.Tags, r.tag.ResourceTag)
		}
	}
	return out, nil
}

func scanPolicy(r scanner) (metastore.ManagedPolicy, error) {
	var p metastore.ManagedPolicy
	var created, updated int64
	err := r.Scan(&p.AccountID, &p.Name, &p.ID, &p.Path, &p.Description, &p.Document, &created, &updated, &p.Attachments)
	if err != nil {
		return metastore.ManagedPolicy{}, err
	}
	p.CreatedAt, p.UpdatedAt = fromNanos(created), fromNanos(updated)
	return p, nil
}
