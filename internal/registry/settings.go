package registry

import (
	"context"
	"errors"
	"fmt"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/metastore"
	"github.com/berth-registry/berth/internal/policy"
)

// Actions of the policy and settings operations.
const (
	ActionGetAuthorizationToken  = "ecr:GetAuthorizationToken"
	ActionGetRepositoryPolicy    = "ecr:GetRepositoryPolicy"
	ActionSetRepositoryPolicy    = "ecr:SetRepositoryPolicy"
	ActionDeleteRepositoryPolicy = "ecr:DeleteRepositoryPolicy"
	ActionGetRegistryPolicy      = "ecr:GetRegistryPolicy"
	ActionPutRegistryPolicy      = "ecr:PutRegistryPolicy"
	ActionDeleteRegistryPolicy   = "ecr:DeleteRegistryPolicy"
	ActionGetAccountSetting      = "ecr:GetAccountSetting"
	ActionPutAccountSetting      = "ecr:PutAccountSetting"
)

// Account settings Berth knows, with their allowed values; the first is
// the default. BLOB_MOUNTING defaults to ENABLED in Berth (ECR introduced
// it disabled): OCI clients rely on mounts, and a mount still requires
// read access to the source repository.
var accountSettings = map[string][]string{
	"BASIC_SCAN_TYPE_VERSION": {"AWS_NATIVE"},
	"REGISTRY_POLICY_SCOPE":   {"V2", "V1"},
	"BLOB_MOUNTING":           {"ENABLED", "DISABLED"},
}

// checkPolicyText validates a policy with the IAM policy engine, worded
// as ECR words it.
func checkPolicyText(text string, kind policy.Kind) error {
	if _, err := policy.Parse(text, kind); err != nil {
		return errorf(ErrInvalidParameter, "Invalid parameter at 'PolicyText' failed to satisfy constraint: '%s'", policyMessage(err))
	}
	return nil
}

// policyMessage is the engine's AWS message, with its detail when it has one.
func policyMessage(err error) string {
	var pe *policy.Error
	if errors.As(err, &pe) {
		if pe.Detail != "" {
			return pe.Message + " " + pe.Detail
		}
		return pe.Message
	}
	return err.Error()
}

// policyCache is what the service tells an authorizer that caches policies.
type policyCache interface {
	InvalidateRepository(account, name string)
	InvalidateRegistry(account string)
}

func (s *Service) invalidateRepository(r RepoRef) {
	if c, ok := s.authz.(policyCache); ok {
		c.InvalidateRepository(r.AccountID, r.Name)
	}
}

func (s *Service) invalidateRegistry(account string) {
	if c, ok := s.authz.(policyCache); ok {
		c.InvalidateRegistry(account)
	}
}

// GetRepositoryPolicy returns a repository's policy text.
func (s *Service) GetRepositoryPolicy(ctx context.Context, who auth.Principal, r RepoRef) (string, error) {
	repo, err := s.repository(ctx, who, ActionGetRepositoryPolicy, r, false)
	if err != nil {
		return "", err
	}
	text, err := s.meta.GetRepositoryPolicy(ctx, repo.ID)
	if errors.Is(err, metastore.ErrNotFound) {
		return "", repoPolicyNotFound(r)
	}
	return text, err
}

// SetRepositoryPolicy stores a repository's policy text.
func (s *Service) SetRepositoryPolicy(ctx context.Context, who auth.Principal, r RepoRef, text string) error {
	if err := checkPolicyText(text, policy.Resource); err != nil {
		return err
	}
	repo, err := s.repository(ctx, who, ActionSetRepositoryPolicy, r, false)
	if err != nil {
		return err
	}
	defer s.invalidateRepository(r)
	return s.meta.SetRepositoryPolicy(ctx, repo.ID, text)
}

// DeleteRepositoryPolicy removes a repository's policy and returns it.
func (s *Service) DeleteRepositoryPolicy(ctx context.Context, who auth.Principal, r RepoRef) (string, error) {
	repo, err := s.repository(ctx, who, ActionDeleteRepositoryPolicy, r, false)
	if err != nil {
		return "", err
	}
	defer s.invalidateRepository(r)
	text, err := s.meta.DeleteRepositoryPolicy(ctx, repo.ID)
	if errors.Is(err, metastore.ErrNotFound) {
		return "", repoPolicyNotFound(r)
	}
	return text, err
}

func repoPolicyNotFound(r RepoRef) error {
	return errorf(ErrRepositoryPolicyNotFound,
		"Repository policy does not exist for the repository with name '%s' in the registry with id '%s'", r.Name, r.AccountID)
}

// GetRegistryPolicy returns the account's registry policy.
func (s *Service) GetRegistryPolicy(ctx context.Context, who auth.Principal, account string) (string, error) {
	if err := s.AuthorizeRegistry(ctx, who, ActionGetRegistryPolicy, account); err != nil {
		return "", err
	}
	text, err := s.meta.GetRegistryPolicy(ctx, account)
	if errors.Is(err, metastore.ErrNotFound) {
		return "", registryPolicyNotFound(account)
	}
	return text, err
}

// PutRegistryPolicy stores the account's registry policy.
func (s *Service) PutRegistryPolicy(ctx context.Context, who auth.Principal, account, text string) error {
	if err := checkPolicyText(text, policy.Registry); err != nil {
		return err
	}
	if err := s.AuthorizeRegistry(ctx, who, ActionPutRegistryPolicy, account); err != nil {
		return err
	}
	defer s.invalidateRegistry(account)
	return s.meta.PutRegistryPolicy(ctx, account, text)
}

// DeleteRegistryPolicy removes the account's registry policy and returns it.
func (s *Service) DeleteRegistryPolicy(ctx context.Context, who auth.Principal, account string) (string, error) {
	if err := s.AuthorizeRegistry(ctx, who, ActionDeleteRegistryPolicy, account); err != nil {
		return "", err
	}
	defer s.invalidateRegistry(account)
	text, err := s.meta.DeleteRegistryPolicy(ctx, account)
	if errors.Is(err, metastore.ErrNotFound) {
		return "", registryPolicyNotFound(account)
	}
	return text, err
}

func registryPolicyNotFound(account string) error {
	return errorf(ErrRegistryPolicyNotFound, "Registry policy does not exist in the registry with id '%s'", account)
}

// GetAccountSetting returns a setting, or its default when never set.
func (s *Service) GetAccountSetting(ctx context.Context, who auth.Principal, account, name string) (string, error) {
	values, ok := accountSettings[name]
	if !ok {
		return "", unknownSetting(name)
	}
	if err := s.AuthorizeRegistry(ctx, who, ActionGetAccountSetting, account); err != nil {
		return "", err
	}
	return s.accountSetting(ctx, account, name, values[0])
}

func (s *Service) accountSetting(ctx context.Context, account, name, def string) (string, error) {
	v, err := s.meta.GetAccountSetting(ctx, account, name)
	if errors.Is(err, metastore.ErrNotFound) {
		return def, nil
	}
	if err != nil {
		return "", fmt.Errorf("get account setting: %w", err)
	}
	return v, nil
}

// PutAccountSetting changes a setting to one of its allowed values.
func (s *Service) PutAccountSetting(ctx context.Context, who auth.Principal, account, name, value string) error {
	values, ok := accountSettings[name]
	if !ok {
		return unknownSetting(name)
	}
	allowed := false
	for _, v := range values {
		allowed = allowed || v == value
	}
	if !allowed {
		return errorf(ErrInvalidParameter, "Invalid parameter at 'value' failed to satisfy constraint: "+
			"'%s must be one of %v'", name, values)
	}
	if err := s.AuthorizeRegistry(ctx, who, ActionPutAccountSetting, account); err != nil {
		return err
	}
	defer s.invalidateRegistry(account)
	return s.meta.PutAccountSetting(ctx, account, name, value)
}

func unknownSetting(name string) error {
	return errorf(ErrInvalidParameter, "Invalid parameter at 'name' failed to satisfy constraint: "+
		"'unknown account setting %q; known: BASIC_SCAN_TYPE_VERSION, REGISTRY_POLICY_SCOPE, BLOB_MOUNTING'", name)
}
