package identity

import (
	"context"
	"errors"
	"strings"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/metastore"
)

// AttachUserPolicy attaches a managed policy (the account's own or an
// AWS-managed one) to a user. Attaching it again changes nothing.
func (s *Service) AttachUserPolicy(ctx context.Context, who auth.Principal, userName, arn string) error {
	defer s.changed(who.AccountID, userName)
	var c check
	c.required("userName", userName, userNameType)
	c.required("policyArn", arn, arnType)
	if err := c.err(); err != nil {
		return err
	}
	u, err := s.userFor(ctx, who, ActionAttachUserPolicy, userName)
	if err != nil {
		return err
	}
	canonical, err := s.attachable(ctx, u.AccountID, arn)
	if err != nil {
		return err
	}
	attached, err := s.store.ListAttachedUserPolicies(ctx, u.AccountID, u.Name)
	if err != nil {
		return internal("list attached user policies", err)
	}
	for _, a := range attached {
		if strings.EqualFold(a, canonical) {
			return nil
		}
	}
	if len(attached) >= s.limits.ManagedPoliciesPerUser {
		return errorf(ErrLimitExceeded, "Cannot exceed quota for PoliciesPerUser: %d", s.limits.ManagedPoliciesPerUser)
	}
	switch err := s.store.AttachUserPolicy(ctx, u.AccountID, u.Name, canonical); {
	case errors.Is(err, metastore.ErrNotFound):
		return errorf(ErrNoSuchEntity, "Policy %s does not exist or is not attachable.", arn)
	case err != nil:
		return internal("attach user policy", err)
	}
	return nil
}

// attachable returns the ARN of a policy a user of account may have
// attached, as the policy is named: an AWS-managed policy of the catalog or
// a policy of the same account.
func (s *Service) attachable(ctx context.Context, account, arn string) (string, error) {
	pa, err := parsePolicyARN(arn)
	if err != nil {
		return "", err
	}
	missing := errorf(ErrNoSuchEntity, "Policy %s does not exist or is not attachable.", arn)
	if pa.account == awsAccount {
		if _, _, ok := s.managed.Get(arn); !ok {
			return "", missing
		}
		return arn, nil
	}
	if pa.account != account {
		return "", missing
	}
	mp, err := s.store.GetPolicy(ctx, account, pa.name)
	if errors.Is(err, metastore.ErrNotFound) || err == nil && mp.Path != pa.path {
		return "", missing
	}
	if err != nil {
		return "", internal("get policy", err)
	}
	return policyARN(account, mp.Path, mp.Name), nil
}

// DetachUserPolicy detaches a managed policy from a user.
func (s *Service) DetachUserPolicy(ctx context.Context, who auth.Principal, userName, arn string) error {
	defer s.changed(who.AccountID, userName)
	var c check
	c.required("userName", userName, userNameType)
	c.required("policyArn", arn, arnType)
	if err := c.err(); err != nil {
		return err
	}
	u, err := s.userFor(ctx, who, ActionDetachUserPolicy, userName)
	if err != nil {
		return err
	}
	if _, err := parsePolicyARN(arn); err != nil {
		return err
	}
	attached, err := s.store.ListAttachedUserPolicies(ctx, u.AccountID, u.Name)
	if err != nil {
		return internal("list attached user policies", err)
	}
	for _, a := range attached {
		if !strings.EqualFold(a, arn) {
			continue
		}
		switch err := s.store.DetachUserPolicy(ctx, u.AccountID, u.Name, a); {
		case errors.Is(err, metastore.ErrNotFound):
			return noSuchPolicy(arn)
		case err != nil:
			return internal("detach user policy", err)
		}
		return nil
	}
	return noSuchPolicy(arn)
}

// ListAttachedUserPolicies lists the managed policies attached to a user
// whose path starts with pathPrefix.
func (s *Service) ListAttachedUserPolicies(ctx context.Context, who auth.Principal, userName, pathPrefix string, o ListOptions) (Page[AttachedPolicy], error) {
	var c check
	c.required("userName", userName, userNameType)
	c.optional("pathPrefix", pathPrefix, policyPathType)
	c.page(o)
	if err := c.err(); err != nil {
		return Page[AttachedPolicy]{}, err
	}
	u, err := s.userFor(ctx, who, ActionListAttachedUserPolicies, userName)
	if err != nil {
		return Page[AttachedPolicy]{}, err
	}
	arns, err := s.store.ListAttachedUserPolicies(ctx, u.AccountID, u.Name)
	if err != nil {
		return Page[AttachedPolicy]{}, internal("list attached user policies", err)
	}
	var out []AttachedPolicy
	for _, a := range arns {
		pa, err := parsePolicyARN(a)
		if err != nil || !strings.HasPrefix(pa.path, pathPrefix) {
			continue
		}
		out = append(out, AttachedPolicy{Name: pa.name, ARN: a})
	}
	return pageSlice(out, func(p AttachedPolicy) string { return p.ARN }, o)
}
