package identity

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/metastore"
)

// IAM actions of the user operations.
const (
	ActionCreateUser = "iam:CreateUser"
	ActionGetUser    = "iam:GetUser"
	ActionListUsers  = "iam:ListUsers"
	ActionDeleteUser = "iam:DeleteUser"
	ActionTagUser    = "iam:TagUser"
	ActionUntagUser  = "iam:UntagUser"
)

// CreateUserInput is CreateUser's request.
type CreateUserInput struct {
	UserName string
	Path     string // "" means "/"
	Tags     []Tag
	// PermissionsBoundary is not supported; setting it is an InvalidInput.
	PermissionsBoundary string
}

// CreateUser creates an IAM user in the caller's account.
func (s *Service) CreateUser(ctx context.Context, who auth.Principal, in CreateUserInput) (User, error) {
	var c check
	c.required("userName", in.UserName, userNameType)
	c.optional("path", in.Path, pathType)
	c.optional("permissionsBoundary", in.PermissionsBoundary, arnType)
	c.tags("tags", in.Tags)
	if err := c.err(); err != nil {
		return User{}, err
	}
	path := cmp.Or(in.Path, "/")
	acct := who.AccountID
	if err := s.authorize(ctx, who, ActionCreateUser, userARN(acct, path, in.UserName), acct); err != nil {
		return User{}, err
	}
	if in.PermissionsBoundary != "" {
		return User{}, errorf(ErrInvalidInput, "Berth does not support permissions boundaries.")
	}
	if err := checkTags(in.Tags); err != nil {
		return User{}, err
	}
	if len(in.Tags) > s.limits.TagsPerUser {
		return User{}, errorf(ErrLimitExceeded, "Cannot exceed quota for TagsPerUser: %d", s.limits.TagsPerUser)
	}
	id, err := s.newID("AIDA")
	if err != nil {
		return User{}, err
	}
	u := metastore.User{AccountID: acct, Name: in.UserName, ID: id, Path: path, CreatedAt: s.now().UTC(),
		Tags: toStoreTags(in.Tags)}
	switch err := s.store.CreateUser(ctx, u); {
	case errors.Is(err, metastore.ErrAlreadyExists):
		return User{}, errorf(ErrEntityAlreadyExists, "User with name %s already exists.", in.UserName)
	case err != nil:
		return User{}, internal("create user", err)
	}
	s.log.InfoContext(ctx, "user created", "account", acct, "user", u.Name, "by", who.ARN())
	return toUser(u), nil
}

// GetUser describes a user; without a name, the caller (the root included).
func (s *Service) GetUser(ctx context.Context, who auth.Principal, name string) (User, error) {
	var c check
	c.optional("userName", name, existingUserNameType)
	if err := c.err(); err != nil {
		return User{}, err
	}
	if name == "" && who.Type == auth.TypeRoot {
		if err := s.authorize(ctx, who, ActionGetUser, rootARN(who.AccountID), who.AccountID); err != nil {
			return User{}, err
		}
		a, err := s.store.GetAccount(ctx, who.AccountID)
		if err != nil {
			return User{}, internal("get account", err)
		}
		return User{ID: a.ID, ARN: rootARN(a.ID), CreatedAt: a.CreatedAt}, nil
	}
	u, err := s.userFor(ctx, who, ActionGetUser, cmp.Or(name, who.UserName))
	if err != nil {
		return User{}, err
	}
	return toUser(u), nil
}

// ListUsers lists the account's users whose path starts with pathPrefix,
// ordered by name.
func (s *Service) ListUsers(ctx context.Context, who auth.Principal, pathPrefix string, o ListOptions) (Page[User], error) {
	var c check
	c.optional("pathPrefix", pathPrefix, pathPrefixType)
	c.page(o)
	if err := c.err(); err != nil {
		return Page[User]{}, err
	}
	acct := who.AccountID
	if err := s.authorize(ctx, who, ActionListUsers, "*", acct); err != nil {
		return Page[User]{}, err
	}
	last := ""
	if o.Marker != "" {
		var err error
		if last, err = decodeMarker(o.Marker); err != nil {
			return Page[User]{}, err
		}
	}
	fetch := func(last string, limit int) ([]metastore.User, error) {
		return s.store.ListUsers(ctx, acct, metastore.Page{Last: last, Limit: limit})
	}
	p, err := collect(o, last, fetch, func(u metastore.User) string { return u.Name },
		func(u metastore.User) bool { return strings.HasPrefix(u.Path, pathPrefix) })
	if err != nil {
		return Page[User]{}, internal("list users", err)
	}
	out := Page[User]{Marker: p.Marker, Items: make([]User, len(p.Items))}
	for i, u := range p.Items {
		out.Items[i] = toUser(u)
	}
	return out, nil
}

// DeleteUser deletes a user that has no access keys and no policies, as
// IAM requires.
func (s *Service) DeleteUser(ctx context.Context, who auth.Principal, name string) error {
	defer s.changed(who.AccountID, name)
	var c check
	c.required("userName", name, existingUserNameType)
	if err := c.err(); err != nil {
		return err
	}
	u, err := s.userFor(ctx, who, ActionDeleteUser, name)
	if err != nil {
		return err
	}
	if err := s.deleteConflict(ctx, u); err != nil {
		return err
	}
	switch err := s.store.DeleteUser(ctx, u.AccountID, u.Name); {
	case errors.Is(err, metastore.ErrNotFound):
		return noSuchUser(name)
	case errors.Is(err, metastore.ErrDeleteConflict):
		return errorf(ErrDeleteConflict, "Cannot delete entity, must delete subordinate entities first.")
	case err != nil:
		return internal("delete user", err)
	}
	s.log.InfoContext(ctx, "user deleted", "account", u.AccountID, "user", u.Name, "by", who.ARN())
	return nil
}

// deleteConflict names what still hangs off a user, with IAM's messages.
func (s *Service) deleteConflict(ctx context.Context, u metastore.User) error {
	keys, err := s.store.ListAccessKeys(ctx, u.AccountID, u.Name)
	if err != nil {
		return internal("list access keys", err)
	}
	if len(keys) > 0 {
		return errorf(ErrDeleteConflict, "Cannot delete entity, must delete access keys first.")
	}
	inline, err := s.store.ListUserPolicies(ctx, u.AccountID, u.Name)
	if err != nil {
		return internal("list user policies", err)
	}
	if len(inline) > 0 {
		return errorf(ErrDeleteConflict, "Cannot delete entity, must delete policies first.")
	}
	attached, err := s.store.ListAttachedUserPolicies(ctx, u.AccountID, u.Name)
	if err != nil {
		return internal("list attached user policies", err)
	}
	if len(attached) > 0 {
		return errorf(ErrDeleteConflict, "Cannot delete entity, must detach all policies first.")
	}
	return nil
}

// TagUser adds or replaces tags of a user. Keys compare case-insensitively
// as in IAM: a new value for an existing key keeps the key's spelling.
func (s *Service) TagUser(ctx context.Context, who auth.Principal, name string, tags []Tag) error {
	defer s.changed(who.AccountID, name)
	var c check
	c.required("userName", name, existingUserNameType)
	c.tags("tags", tags)
	if err := c.err(); err != nil {
		return err
	}
	u, err := s.userFor(ctx, who, ActionTagUser, name)
	if err != nil {
		return err
	}
	if err := checkTags(tags); err != nil {
		return err
	}
	st := toStoreTags(tags)
	for i := range st {
		st[i].Key = existingKey(u.Tags, st[i].Key)
	}
	switch err := s.store.TagUser(ctx, u.AccountID, u.Name, st, s.limits.TagsPerUser); {
	case errors.Is(err, metastore.ErrTooManyTags):
		return errorf(ErrLimitExceeded, "Cannot exceed quota for TagsPerUser: %d", s.limits.TagsPerUser)
	case errors.Is(err, metastore.ErrNotFound):
		return noSuchUser(name)
	case err != nil:
		return internal("tag user", err)
	}
	return nil
}

// UntagUser removes tags by key (case-insensitively); absent keys are
// ignored.
func (s *Service) UntagUser(ctx context.Context, who auth.Principal, name string, keys []string) error {
	defer s.changed(who.AccountID, name)
	var c check
	c.required("userName", name, existingUserNameType)
	c.listLen("tagKeys", len(keys), keys)
	for i, k := range keys {
		c.required("tagKeys."+strconv.Itoa(i+1)+".member", k, tagKeyType)
	}
	if err := c.err(); err != nil {
		return err
	}
	u, err := s.userFor(ctx, who, ActionUntagUser, name)
	if err != nil {
		return err
	}
	var remove []string
	for _, t := range u.Tags {
		if slices.ContainsFunc(keys, func(k string) bool { return strings.EqualFold(k, t.Key) }) {
			remove = append(remove, t.Key)
		}
	}
	if len(remove) == 0 {
		return nil
	}
	switch err := s.store.UntagUser(ctx, u.AccountID, u.Name, remove); {
	case errors.Is(err, metastore.ErrNotFound):
		return noSuchUser(name)
	case err != nil:
		return internal("untag user", err)
	}
	return nil
}

// CallerIdentity answers STS GetCallerIdentity. It needs no permission,
// as in AWS.
func (s *Service) CallerIdentity(ctx context.Context, who auth.Principal) (CallerIdentity, error) {
	switch who.Type {
	case auth.TypeRoot:
		return CallerIdentity{Account: who.AccountID, ARN: rootARN(who.AccountID), UserID: who.AccountID}, nil
	case auth.TypeIAMUser:
		u, err := s.store.GetUser(ctx, who.AccountID, who.UserName)
		if errors.Is(err, metastore.ErrNotFound) {
			return CallerIdentity{}, noSuchUser(who.UserName)
		}
		if err != nil {
			return CallerIdentity{}, internal("get user", err)
		}
		return CallerIdentity{Account: u.AccountID, ARN: userARN(u.AccountID, u.Path, u.Name), UserID: u.ID}, nil
	}
	return CallerIdentity{}, Denied("Anonymous callers have no identity.")
}

// userFor loads the named user of the caller's account and authorizes
// action on it. The user's ARN carries its path when it exists; a missing
// user is reported only to callers allowed to act on it.
func (s *Service) userFor(ctx context.Context, who auth.Principal, action, name string) (metastore.User, error) {
	acct := who.AccountID
	u, err := s.store.GetUser(ctx, acct, name)
	found := err == nil
	if err != nil && !errors.Is(err, metastore.ErrNotFound) {
		return metastore.User{}, internal("get user", err)
	}
	arn := userARN(acct, "/", name)
	if found {
		arn = userARN(acct, u.Path, u.Name)
	}
	if err := s.authorize(ctx, who, action, arn, acct); err != nil {
		return metastore.User{}, err
	}
	if !found {
		return metastore.User{}, noSuchUser(name)
	}
	return u, nil
}

func toUser(u metastore.User) User {
	out := User{Name: u.Name, ID: u.ID, ARN: userARN(u.AccountID, u.Path, u.Name), Path: u.Path, CreatedAt: u.CreatedAt}
	for _, t := range u.Tags {
		out.Tags = append(out.Tags, Tag{Key: t.Key, Value: t.Value})
	}
	return out
}

// toStoreTags converts tags, ordered by key as the store keeps them.
func toStoreTags(tags []Tag) []metastore.ResourceTag {
	out := make([]metastore.ResourceTag, len(tags))
	for i, t := range tags {
		out[i] = metastore.ResourceTag{Key: t.Key, Value: t.Value}
	}
	slices.SortFunc(out, func(a, b metastore.ResourceTag) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// existingKey returns the spelling of key already on the resource, if any.
func existingKey(tags []metastore.ResourceTag, key string) string {
	for _, t := range tags {
		if strings.EqualFold(t.Key, key) {
			return t.Key
		}
	}
	return key
}
