package ecrapi

import (
	"context"
	"encoding/base64"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/registry"
)

type getAuthorizationTokenInput struct {
	RegistryIDs []string `json:"registryIds"`
}

type authorizationData struct {
	AuthorizationToken string `json:"authorizationToken"`
	ExpiresAt          *Time  `json:"expiresAt"`
	ProxyEndpoint      string `json:"proxyEndpoint"`
}

type getAuthorizationTokenOutput struct {
	AuthorizationData []authorizationData `json:"authorizationData"`
}

// getAuthorizationToken mints a 12-hour registry password for the caller.
// As in ECR, one token serves every registry the caller may use; one entry
// is returned per requested registry id (one when none are given).
func (h *Handler) getAuthorizationToken(ctx context.Context, who auth.Principal, in *getAuthorizationTokenInput) (*getAuthorizationTokenOutput, error) {
	if err := h.svc.AuthorizeRegistry(ctx, who, registry.ActionGetAuthorizationToken, who.AccountID); err != nil {
		return nil, err
	}
	password, exp, err := h.opts.Tokens.Mint(ctx, who)
	if err != nil {
		return nil, err
	}
	token := base64.StdEncoding.EncodeToString([]byte("AWS:" + password))
	ids := in.RegistryIDs
	if len(ids) == 0 {
		ids = []string{who.AccountID}
	}
	out := &getAuthorizationTokenOutput{}
	for _, id := range ids {
		out.AuthorizationData = append(out.AuthorizationData, authorizationData{
			AuthorizationToken: token, ExpiresAt: &Time{exp}, ProxyEndpoint: h.proxyEndpoint(id),
		})
	}
	return out, nil
}

// proxyEndpoint is the registry URL for an account: the registry URL itself
// for the default account, else the same host (clients address the account
// with the <host>/<account>/<name> path form).
func (h *Handler) proxyEndpoint(string) string { return h.opts.RegistryURL }
