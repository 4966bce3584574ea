// Package auth turns request credentials into a Principal: the account and
// IAM identity a request acts as. It owns access-key generation and the
// sealing of secrets at rest. It decides who a caller is, never what the
// caller may do: that is the policy engine's job.
package auth

import (
	"context"
	"errors"
	"net/http"
)

// Sentinel errors the front ends translate into their wire formats.
var (
	// ErrUnauthenticated: no credentials, unknown key or wrong secret.
	ErrUnauthenticated = errors.New("auth: not authenticated")
	// ErrExpired: a registry password that was valid but has expired.
	ErrExpired = errors.New("auth: authorization token has expired")

	// SigV4 failures, each an AWS exception of its own on the APIs.
	ErrMissingAuthentication = errors.New("auth: missing authentication token")
	ErrIncompleteSignature   = errors.New("auth: incomplete signature")
	ErrInvalidSignature      = errors.New("auth: invalid signature")
	ErrUnrecognizedClient    = errors.New("auth: unrecognized client")
)

// Error carries an authentication failure with the message AWS would send.
type Error struct {
	Kind    error
	Message string
}

func (e *Error) Error() string { return e.Message }
func (e *Error) Unwrap() error { return e.Kind }

// RequestAuthenticator authenticates a SigV4-signed API request whose body
// the caller has already read (bounded).
type RequestAuthenticator interface {
	AuthenticateRequest(r *http.Request, body []byte) (Principal, error)
}

// PrincipalType names the kind of identity, as IAM does in CloudTrail.
type PrincipalType string

const (
	TypeRoot      PrincipalType = "Root"
	TypeIAMUser   PrincipalType = "IAMUser"
	TypeAnonymous PrincipalType = "Anonymous"
)

// Principal is the identity a request acts as.
type Principal struct {
	Type        PrincipalType
	AccountID   string
	UserName    string // empty for the root and anonymous principals
	UserID      string // the IAM user's unique id (AIDA…); empty for the root and anonymous principals
	UserPath    string // the IAM user's path, "/" or "/team/…/"; empty means "/"
	AccessKeyID string // the key the request was signed or authenticated with
}

// ARN is the principal's IAM ARN.
func (p Principal) ARN() string {
	switch p.Type {
	case TypeRoot:
		return "arn:aws:iam::" + p.AccountID + ":root"
	case TypeIAMUser:
		path := p.UserPath
		if path == "" {
			path = "/"
		}
		return "arn:aws:iam::" + p.AccountID + ":user" + path + p.UserName
	default:
		return "*"
	}
}

// BasicAuthenticator verifies the username/password pair of an HTTP Basic
// Authorization header.
type BasicAuthenticator interface {
	AuthenticateBasic(ctx context.Context, username, password string) (Principal, error)
}

// RequestInfo is what a policy condition may ask about the request itself.
type RequestInfo struct {
	SourceIP        string // client address without port
	SecureTransport bool   // the request arrived over TLS
	UserAgent       string
}

type requestInfoKey struct{}

// WithRequestInfo records request facts for authorization.
func WithRequestInfo(ctx context.Context, ri RequestInfo) context.Context {
	return context.WithValue(ctx, requestInfoKey{}, ri)
}

// RequestInfoFrom returns the facts WithRequestInfo recorded, if any.
func RequestInfoFrom(ctx context.Context) RequestInfo {
	ri, _ := ctx.Value(requestInfoKey{}).(RequestInfo)
	return ri
}
