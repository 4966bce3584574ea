package identity

import (
	"cmp"
	"context"
	"errors"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/metastore"
)

// IAM actions of the access-key operations.
const (
	ActionCreateAccessKey = "iam:CreateAccessKey"
	ActionListAccessKeys  = "iam:ListAccessKeys"
	ActionUpdateAccessKey = "iam:UpdateAccessKey"
	ActionDeleteAccessKey = "iam:DeleteAccessKey"
)

// CreateAccessKey issues a key for the named user, or for the caller when
// userName is empty (the root's own keys when the root calls). The secret
// is returned once and stored sealed, bound to the key id.
func (s *Service) CreateAccessKey(ctx context.Context, who auth.Principal, userName string) (AccessKey, error) {
	var c check
	c.optional("userName", userName, existingUserNameType)
	if err := c.err(); err != nil {
		return AccessKey{}, err
	}
	owner, err := s.keyOwner(ctx, who, ActionCreateAccessKey, userName)
	if err != nil {
		return AccessKey{}, err
	}
	keys, err := s.store.ListAccessKeys(ctx, who.AccountID, owner)
	if err != nil {
		return AccessKey{}, internal("list access keys", err)
	}
	if len(keys) >= s.limits.AccessKeysPerUser {
		return AccessKey{}, errorf(ErrLimitExceeded, "Cannot exceed quota for AccessKeysPerUser: %d", s.limits.AccessKeysPerUser)
	}
	id, secret, err := auth.GenerateAccessKey(s.random)
	if err != nil {
		return AccessKey{}, err
	}
	sealed, err := s.sealer.Seal([]byte(secret), []byte(id))
	if err != nil {
		return AccessKey{}, internal("seal secret", err)
	}
	k := metastore.AccessKey{ID: id, AccountID: who.AccountID, UserName: owner, SecretCiphertext: sealed,
		Active: true, CreatedAt: s.now().UTC()}
	if err := s.store.CreateAccessKey(ctx, k); err != nil {
		return AccessKey{}, internal("create access key", err)
	}
	s.log.InfoContext(ctx, "access key created", "account", k.AccountID, "user", owner, "access_key_id", id, "by", who.ARN())
	out := toAccessKey(k)
	out.Secret = secret
	return out, nil
}

// ListAccessKeys lists the keys of the named user, or of the caller, in
// the order they were issued.
func (s *Service) ListAccessKeys(ctx context.Context, who auth.Principal, userName string, o ListOptions) (Page[AccessKey], error) {
	var c check
	c.optional("userName", userName, existingUserNameType)
	c.page(o)
	if err := c.err(); err != nil {
		return Page[AccessKey]{}, err
	}
	owner, err := s.keyOwner(ctx, who, ActionListAccessKeys, userName)
	if err != nil {
		return Page[AccessKey]{}, err
	}
	keys, err := s.store.ListAccessKeys(ctx, who.AccountID, owner)
	if err != nil {
		return Page[AccessKey]{}, internal("list access keys", err)
	}
	out := make([]AccessKey, len(keys))
	for i, k := range keys {
		out[i] = toAccessKey(k)
	}
	return pageSlice(out, func(k AccessKey) string { return k.ID }, o)
}

// UpdateAccessKey makes a key Active or Inactive; the change applies to
// the next request signed with it.
func (s *Service) UpdateAccessKey(ctx context.Context, who auth.Principal, userName, keyID, status string) error {
	var c check
	c.optional("userName", userName, existingUserNameType)
	c.required("accessKeyId", keyID, accessKeyIDType)
	c.required("status", status, anyString)
	c.enum("status", status, statusValues)
	if err := c.err(); err != nil {
		return err
	}
	k, err := s.ownedKey(ctx, who, ActionUpdateAccessKey, userName, keyID)
	if err != nil {
		return err
	}
	if status != StatusActive && status != StatusInactive {
		return errorf(ErrInvalidInput, "Access key status %s cannot be set; use Active or Inactive.", status)
	}
	err = s.store.SetAccessKeyActive(ctx, k.ID, status == StatusActive)
	s.forget(k.ID)
	if errors.Is(err, metastore.ErrNotFound) {
		return noSuchKey(keyID)
	}
	if err != nil {
		return internal("update access key", err)
	}
	s.log.InfoContext(ctx, "access key status changed", "account", k.AccountID, "user", k.UserName,
		"access_key_id", k.ID, "status", status, "by", who.ARN())
	return nil
}

// DeleteAccessKey deletes a key; requests signed with it fail at once.
func (s *Service) DeleteAccessKey(ctx context.Context, who auth.Principal, userName, keyID string) error {
	var c check
	c.optional("userName", userName, existingUserNameType)
	c.required("accessKeyId", keyID, accessKeyIDType)
	if err := c.err(); err != nil {
		return err
	}
	k, err := s.ownedKey(ctx, who, ActionDeleteAccessKey, userName, keyID)
	if err != nil {
		return err
	}
	err = s.store.DeleteAccessKey(ctx, k.ID)
	s.forget(k.ID)
	if errors.Is(err, metastore.ErrNotFound) {
		return noSuchKey(keyID)
	}
	if err != nil {
		return internal("delete access key", err)
	}
	s.log.InfoContext(ctx, "access key deleted", "account", k.AccountID, "user", k.UserName, "access_key_id", k.ID, "by", who.ARN())
	return nil
}

// keyOwner resolves whose keys an operation touches, authorizing action on
// that principal: the named user, else the caller ("" for the root).
func (s *Service) keyOwner(ctx context.Context, who auth.Principal, action, userName string) (string, error) {
	if userName == "" && who.Type == auth.TypeRoot {
		return "", s.authorize(ctx, who, action, rootARN(who.AccountID), who.AccountID)
	}
	u, err := s.userFor(ctx, who, action, cmp.Or(userName, who.UserName))
	return u.Name, err
}

// ownedKey returns a key of the principal keyOwner resolves; another
// principal's key does not exist as far as the caller is told.
func (s *Service) ownedKey(ctx context.Context, who auth.Principal, action, userName, keyID string) (metastore.AccessKey, error) {
	owner, err := s.keyOwner(ctx, who, action, userName)
	if err != nil {
		return metastore.AccessKey{}, err
	}
	k, err := s.store.GetAccessKey(ctx, keyID)
	if errors.Is(err, metastore.ErrNotFound) || err == nil && (k.AccountID != who.AccountID || k.UserName != owner) {
		return metastore.AccessKey{}, noSuchKey(keyID)
	}
	if err != nil {
		return metastore.AccessKey{}, internal("get access key", err)
	}
	return k, nil
}

func toAccessKey(k metastore.AccessKey) AccessKey {
	status := StatusInactive
	if k.Active {
		status = StatusActive
	}
	return AccessKey{ID: k.ID, UserName: k.UserName, Status: status, CreatedAt: k.CreatedAt}
}
