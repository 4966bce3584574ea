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
// is returned per requested registry id (one when none are given). Every
// account is served at the same registry URL (other accounts are addressed
// as <host>/<account>/<name>), so proxyEndpoint is the same for each.
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
	for range ids {
		out.AuthorizationData = append(out.AuthorizationData, authorizationData{
			AuthorizationToken: token, ExpiresAt: &Time{exp}, ProxyEndpoint: h.opts.RegistryURL,
		})
	}
	return out, nil
}
