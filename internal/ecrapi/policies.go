package ecrapi

import (
	"context"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/registry"
)

type repositoryPolicyInput struct {
	RegistryID     *string `json:"registryId"`
	RepositoryName string  `json:"repositoryName"`
	PolicyText     string  `json:"policyText"`
	Force          bool    `json:"force"`
}

type repositoryPolicyOutput struct {
	RegistryID     string `json:"registryId"`
	RepositoryName string `json:"repositoryName"`
	PolicyText     string `json:"policyText,omitempty"`
}

func (h *Handler) getRepositoryPolicy(ctx context.Context, who auth.Principal, in *repositoryPolicyInput) (*repositoryPolicyOutput, error) {
	ref := registry.RepoRef{AccountID: registryOf(who, in.RegistryID), Name: in.RepositoryName}
	text, err := h.svc.GetRepositoryPolicy(ctx, who, ref)
	if err != nil {
		return nil, err
	}
	return &repositoryPolicyOutput{ref.AccountID, ref.Name, text}, nil
}

func (h *Handler) setRepositoryPolicy(ctx context.Context, who auth.Principal, in *repositoryPolicyInput) (*repositoryPolicyOutput, error) {
	ref := registry.RepoRef{AccountID: registryOf(who, in.RegistryID), Name: in.RepositoryName}
	if err := h.svc.SetRepositoryPolicy(ctx, who, ref, in.PolicyText); err != nil {
		return nil, err
	}
	return &repositoryPolicyOutput{ref.AccountID, ref.Name, in.PolicyText}, nil
}

func (h *Handler) deleteRepositoryPolicy(ctx context.Context, who auth.Principal, in *repositoryPolicyInput) (*repositoryPolicyOutput, error) {
	ref := registry.RepoRef{AccountID: registryOf(who, in.RegistryID), Name: in.RepositoryName}
	text, err := h.svc.DeleteRepositoryPolicy(ctx, who, ref)
	if err != nil {
		return nil, err
	}
	return &repositoryPolicyOutput{ref.AccountID, ref.Name, text}, nil
}

type registryPolicyInput struct {
	PolicyText string `json:"policyText"`
}

type registryPolicyOutput struct {
	RegistryID string `json:"registryId"`
	PolicyText string `json:"policyText,omitempty"`
}

func (h *Handler) getRegistryPolicy(ctx context.Context, who auth.Principal, _ *registryPolicyInput) (*registryPolicyOutput, error) {
	text, err := h.svc.GetRegistryPolicy(ctx, who, who.AccountID)
	if err != nil {
		return nil, err
	}
	return &registryPolicyOutput{who.AccountID, text}, nil
}

func (h *Handler) putRegistryPolicy(ctx context.Context, who auth.Principal, in *registryPolicyInput) (*registryPolicyOutput, error) {
	if err := h.svc.PutRegistryPolicy(ctx, who, who.AccountID, in.PolicyText); err != nil {
		return nil, err
	}
	return &registryPolicyOutput{who.AccountID, in.PolicyText}, nil
}

func (h *Handler) deleteRegistryPolicy(ctx context.Context, who auth.Principal, _ *registryPolicyInput) (*registryPolicyOutput, error) {
	text, err := h.svc.DeleteRegistryPolicy(ctx, who, who.AccountID)
	if err != nil {
		return nil, err
	}
	return &registryPolicyOutput{who.AccountID, text}, nil
}

type accountSettingInput struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

type accountSettingOutput struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

func (h *Handler) getAccountSetting(ctx context.Context, who auth.Principal, in *accountSettingInput) (*accountSettingOutput, error) {
	v, err := h.svc.GetAccountSetting(ctx, who, who.AccountID, in.Name)
	if err != nil {
		return nil, err
	}
	return &accountSettingOutput{in.Name, v}, nil
}

func (h *Handler) putAccountSetting(ctx context.Context, who auth.Principal, in *accountSettingInput) (*accountSettingOutput, error) {
	if err := h.svc.PutAccountSetting(ctx, who, who.AccountID, in.Name, in.Value); err != nil {
		return nil, err
	}
	return &accountSettingOutput{in.Name, in.Value}, nil
}
