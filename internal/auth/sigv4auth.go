package auth

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/berth-registry/berth/internal/auth/sigv4"
	"github.com/berth-registry/berth/internal/metastore"
)

// SigV4Authenticator authenticates AWS API requests (ECR, IAM, STS) signed
// with Signature Version 4 by one of the deployment's access keys.
type SigV4Authenticator struct {
	Keys     KeyStore
	Sealer   *Sealer
	Verifier *sigv4.Verifier
}

const msgInvalidToken = "The security token included in the request is invalid."

// AuthenticateRequest implements RequestAuthenticator. Checks that need no
// secret run first, so malformed or stale requests never reach the key
// store, and AWS's error precedence holds.
func (a *SigV4Authenticator) AuthenticateRequest(r *http.Request, body []byte) (Principal, error) {
	p, err := sigv4.Parse(r)
	if err != nil {
		return Principal{}, mapSigV4(err)
	}
	if err := a.Verifier.Check(r, p); err != nil {
		return Principal{}, mapSigV4(err)
	}
	if p.SecurityToken != "" { // Berth issues no session credentials
		return Principal{}, &Error{Kind: ErrUnrecognizedClient, Message: msgInvalidToken}
	}
	if !ValidAccessKeyID(p.AccessKeyID) {
		return Principal{}, &Error{Kind: ErrUnrecognizedClient, Message: msgInvalidToken}
	}
	k, err := a.Keys.GetAccessKey(r.Context(), p.AccessKeyID)
	if errors.Is(err, metastore.ErrNotFound) || err == nil && !k.Active {
		return Principal{}, &Error{Kind: ErrUnrecognizedClient, Message: msgInvalidToken}
	}
	if err != nil {
		return Principal{}, fmt.Errorf("look up access key: %w", err)
	}
	secret, err := a.Sealer.Open(k.SecretCiphertext, []byte(k.ID))
	if err != nil {
		return Principal{}, fmt.Errorf("open secret of access key %s: %w", k.ID, err)
	}
	if err := a.Verifier.Verify(r, p, string(secret), body); err != nil {
		return Principal{}, mapSigV4(err)
	}
	return principalFor(k), nil
}

// mapSigV4 turns a sigv4 failure into the auth kind the front ends map to
// AWS exceptions, keeping AWS's message.
func mapSigV4(err error) error {
	var se *sigv4.Error
	if !errors.As(err, &se) {
		return err
	}
	switch {
	case errors.Is(err, sigv4.ErrMissingAuth):
		return &Error{Kind: ErrMissingAuthentication, Message: se.Message}
	case errors.Is(err, sigv4.ErrMalformed):
		return &Error{Kind: ErrIncompleteSignature, Message: se.Message}
	default:
		return &Error{Kind: ErrInvalidSignature, Message: se.Message}
	}
}
