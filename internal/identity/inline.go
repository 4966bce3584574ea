package identity

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/metastore"
)

// IAM actions of the inline-policy operations.
const (
	ActionPutUserPolicy    = "iam:PutUserPolicy"
	ActionGetUserPolicy    = "iam:GetUserPolicy"
	ActionListUserPolicies = "iam:ListUserPolicies"
	ActionDeleteUserPolicy = "iam:DeleteUserPolicy"
)

// PutUserPolicy creates or replaces an inline policy of a user. All inline
// policies of a user together stay within Limits.InlinePolicySize.
func (s *Service) PutUserPolicy(ctx context.Context, who auth.Principal, userName, policyName, document string) error {
	defer s.changed(who.AccountID, userName)
	var c check
	c.required("userName", userName, existingUserNameType)
	c.required("policyName", policyName, policyNameType)
	c.required("policyDocument", document, policyDocumentType)
	if err := c.err(); err != nil {
		return err
	}
	u, err := s.userFor(ctx, who, ActionPutUserPolicy, userName)
	if err != nil {
		return err
	}
	if err := s.checkDocument(document); err != nil {
		return err
	}
	size, err := s.inlineSize(ctx, u, policyName)
	if err != nil {
		return err
	}
	if size+policySize(document) > s.limits.InlinePolicySize {
		return errorf(ErrLimitExceeded, "Maximum policy size of %d bytes exceeded for user %s", s.limits.InlinePolicySize, u.Name)
	}
	err = s.store.PutUserPolicy(ctx, u.AccountID, u.Name, metastore.InlinePolicy{Name: policyName, Document: document})
	if errors.Is(err, metastore.ErrNotFound) {
		return noSuchUser(userName)
	}
	if err != nil {
		return internal("put user policy", err)
	}
	return nil
}

// inlineSize is the size of a user's inline policies other than except.
func (s *Service) inlineSize(ctx context.Context, u metastore.User, except string) (int, error) {
	names, err := s.store.ListUserPolicies(ctx, u.AccountID, u.Name)
	if err != nil {
		return 0, internal("list user policies", err)
	}
	total := 0
	for _, n := range names {
		if strings.EqualFold(n, except) {
			continue
		}
		p, err := s.store.GetUserPolicy(ctx, u.AccountID, u.Name, n)
		if errors.Is(err, metastore.ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return 0, internal("get user policy", err)
		}
		total += policySize(p.Document)
	}
	return total, nil
}

// GetUserPolicy returns an inline policy of a user.
func (s *Service) GetUserPolicy(ctx context.Context, who auth.Principal, userName, policyName string) (InlinePolicy, error) {
	var c check
	c.required("userName", userName, existingUserNameType)
	c.required("policyName", policyName, policyNameType)
	if err := c.err(); err != nil {
		return InlinePolicy{}, err
	}
	u, err := s.userFor(ctx, who, ActionGetUserPolicy, userName)
	if err != nil {
		return InlinePolicy{}, err
	}
	p, err := s.store.GetUserPolicy(ctx, u.AccountID, u.Name, policyName)
	if errors.Is(err, metastore.ErrNotFound) {
		return InlinePolicy{}, noSuchUserPolicy(policyName)
	}
	if err != nil {
		return InlinePolicy{}, internal("get user policy", err)
	}
	return InlinePolicy{UserName: u.Name, Name: p.Name, Document: p.Document}, nil
}

// ListUserPolicies lists the names of a user's inline policies.
func (s *Service) ListUserPolicies(ctx context.Context, who auth.Principal, userName string, o ListOptions) (Page[string], error) {
	var c check
	c.required("userName", userName, existingUserNameType)
	c.page(o)
	if err := c.err(); err != nil {
		return Page[string]{}, err
	}
	u, err := s.userFor(ctx, who, ActionListUserPolicies, userName)
	if err != nil {
		return Page[string]{}, err
	}
	names, err := s.store.ListUserPolicies(ctx, u.AccountID, u.Name)
	if err != nil {
		return Page[string]{}, internal("list user policies", err)
	}
	return pageSlice(names, func(n string) string { return n }, o)
}

// DeleteUserPolicy deletes an inline policy of a user.
func (s *Service) DeleteUserPolicy(ctx context.Context, who auth.Principal, userName, policyName string) error {
	defer s.changed(who.AccountID, userName)
	var c check
	c.required("userName", userName, existingUserNameType)
	c.required("policyName", policyName, policyNameType)
	if err := c.err(); err != nil {
		return err
	}
	u, err := s.userFor(ctx, who, ActionDeleteUserPolicy, userName)
	if err != nil {
		return err
	}
	err = s.store.DeleteUserPolicy(ctx, u.AccountID, u.Name, policyName)
	if errors.Is(err, metastore.ErrNotFound) {
		return noSuchUserPolicy(policyName)
	}
	if err != nil {
		return internal("delete user policy", err)
	}
	return nil
}

func noSuchUserPolicy(name string) error {
	return errorf(ErrNoSuchEntity, "The user policy with name %s cannot be found.", name)
}

// checkDocument runs the injected policy parser and classifies its verdict.
func (s *Service) checkDocument(doc string) error {
	err := s.validate(doc)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrLimitExceeded):
		return &Error{Kind: ErrLimitExceeded, Message: Message(err)}
	}
	return &Error{Kind: ErrMalformedPolicyDocument, Message: err.Error()}
}

// minimalPolicyCheck stands in for the policy engine's parser: a policy is
// a JSON object with a Statement.
func minimalPolicyCheck(doc string) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(doc), &m); err != nil {
		return errors.New("Syntax errors in policy.")
	}
	if _, ok := m["Statement"]; !ok {
		return errors.New("Syntax errors in policy.")
	}
	return nil
}
