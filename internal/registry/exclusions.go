package registry

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/metastore"
)

// Actions of the pull time update exclusion operations: registry-level,
// so authorized on resource "*" of the account.
const (
	ActionRegisterPullTimeUpdateExclusion   = "ecr:RegisterPullTimeUpdateExclusion"
	ActionDeregisterPullTimeUpdateExclusion = "ecr:DeregisterPullTimeUpdateExclusion"
	ActionListPullTimeUpdateExclusions      = "ecr:ListPullTimeUpdateExclusions"
)

// MaxPullTimeExclusions is ECR's limit of exclusions per registry.
const MaxPullTimeExclusions = 100

// principalARN is the model's PrincipalArn: an IAM role or user ARN of at
// most 200 characters.
var principalARN = regexp.MustCompile(`^arn:aws(-[a-z]+)*:iam::[0-9]{12}:(role|user)/[\w+=,.@-]+(/[\w+=,.@-]+)*$`)

func checkPrincipalARN(arn string) error {
	if len(arn) > 200 || !principalARN.MatchString(arn) {
		return errorf(ErrInvalidParameter, "Invalid parameter at 'principalArn' failed to satisfy constraint: "+
			"'must be an IAM user or role ARN (arn:aws:iam::<12-digit account>:user/<name> or :role/<name>) of at most 200 characters'")
	}
	return nil
}

// RegisterPullTimeExclusion stops pulls by principalARN from updating
// pull times in account's registry. Berth has IAM users but no roles, so
// only a user ARN matches a principal; a user is matched by name (unique in
// its account whatever its path).
func (s *Service) RegisterPullTimeExclusion(ctx context.Context, who auth.Principal, account, arn string) (PullTimeExclusion, error) {
	if err := checkPrincipalARN(arn); err != nil {
		return PullTimeExclusion{}, err
	}
	if err := s.AuthorizeRegistry(ctx, who, ActionRegisterPullTimeUpdateExclusion, account); err != nil {
		return PullTimeExclusion{}, err
	}
	e, err := s.meta.RegisterPullTimeExclusion(ctx, metastore.PullTimeExclusion{AccountID: account, PrincipalARN: arn},
		MaxPullTimeExclusions)
	switch {
	case errors.Is(err, metastore.ErrAlreadyExists):
		return PullTimeExclusion{}, errorf(ErrExclusionExists,
			"The principal '%s' is already excluded from pull time updates in the registry with id '%s'", arn, account)
	case errors.Is(err, metastore.ErrTooManyExclusions):
		return PullTimeExclusion{}, errorf(ErrLimitExceeded,
			"The registry with id '%s' already has %d pull time update exclusions, the most it may have", account, MaxPullTimeExclusions)
	case err != nil:
		return PullTimeExclusion{}, fmt.Errorf("register pull time exclusion: %w", err)
	}
	s.log.InfoContext(ctx, "pull time update exclusion registered", "account", account, "principal", arn)
	return e, nil
}

// DeregisterPullTimeExclusion lets pulls by principalARN update pull times
// again.
func (s *Service) DeregisterPullTimeExclusion(ctx context.Context, who auth.Principal, account, arn string) error {
	if err := checkPrincipalARN(arn); err != nil {
		return err
	}
	if err := s.AuthorizeRegistry(ctx, who, ActionDeregisterPullTimeUpdateExclusion, account); err != nil {
		return err
	}
	err := s.meta.DeregisterPullTimeExclusion(ctx, account, arn)
	if errors.Is(err, metastore.ErrNotFound) {
		return errorf(ErrExclusionNotFound,
			"The principal '%s' is not excluded from pull time updates in the registry with id '%s'", arn, account)
	}
	if err != nil {
		return fmt.Errorf("deregister pull time exclusion: %w", err)
	}
	s.log.InfoContext(ctx, "pull time update exclusion deregistered", "account", account, "principal", arn)
	return nil
}

// ListPullTimeExclusions returns up to n of account's exclusions after the
// ARN last, in byte order, and whether more follow.
func (s *Service) ListPullTimeExclusions(ctx context.Context, who auth.Principal, account, last string, n int) ([]PullTimeExclusion, bool, error) {
	if err := checkPage(n); err != nil {
		return nil, false, err
	}
	if err := s.AuthorizeRegistry(ctx, who, ActionListPullTimeUpdateExclusions, account); err != nil || n == 0 {
		return []PullTimeExclusion{}, false, err
	}
	list, err := s.meta.ListPullTimeExclusions(ctx, account, metastore.Page{Last: last, Limit: n + 1})
	if err != nil {
		return nil, false, fmt.Errorf("list pull time exclusions: %w", err)
	}
	if len(list) > n {
		return list[:n], true, nil
	}
	return list, false, nil
}
