package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"

	"github.com/berth-registry/berth/internal/metastore"
)

// KeyStore is what the key authenticator needs from the metadata store.
type KeyStore interface {
	GetAccessKey(ctx context.Context, id string) (metastore.AccessKey, error)
}

// TokenVerifier verifies registry passwords minted by GetAuthorizationToken
// (username "AWS"). It arrives with the ECR API; until then it is nil.
type TokenVerifier interface {
	VerifyPassword(ctx context.Context, password string) (Principal, error)
}

// KeyAuthenticator accepts Basic credentials that are either an access key
// id and its secret, or the username AWS with a registry password.
type KeyAuthenticator struct {
	Keys   KeyStore
	Sealer *Sealer
	Tokens TokenVerifier // optional
}

// AuthenticateBasic implements BasicAuthenticator. The key is looked up on
// every request so a deactivated or deleted key stops working at once.
func (a *KeyAuthenticator) AuthenticateBasic(ctx context.Context, username, password string) (Principal, error) {
	if username == "AWS" && a.Tokens != nil {
		return a.Tokens.VerifyPassword(ctx, password)
	}
	return a.AuthenticateKey(ctx, username, password)
}

// AuthenticateKey checks an access key id and secret.
func (a *KeyAuthenticator) AuthenticateKey(ctx context.Context, id, secret string) (Principal, error) {
	if !ValidAccessKeyID(id) || secret == "" {
		return Principal{}, ErrUnauthenticated
	}
	k, err := a.Keys.GetAccessKey(ctx, id)
	if errors.Is(err, metastore.ErrNotFound) {
		return Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, fmt.Errorf("look up access key: %w", err)
	}
	if !k.Active {
		return Principal{}, ErrUnauthenticated
	}
	want, err := a.Sealer.Open(k.SecretCiphertext, []byte(k.ID))
	if err != nil {
		return Principal{}, fmt.Errorf("open secret of access key %s: %w", k.ID, err)
	}
	if subtle.ConstantTimeCompare(want, []byte(secret)) != 1 {
		return Principal{}, ErrUnauthenticated
	}
	return principalFor(k), nil
}

func principalFor(k metastore.AccessKey) Principal {
	p := Principal{Type: TypeRoot, AccountID: k.AccountID, AccessKeyID: k.ID}
	if k.UserName != "" {
		p.Type, p.UserName, p.UserID, p.UserPath = TypeIAMUser, k.UserName, k.UserID, k.UserPath
	}
	return p
}
