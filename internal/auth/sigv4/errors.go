package sigv4

import "errors"

// Kinds of failure. Every error returned by Parse, Check and Verify is an
// *Error whose Kind is one of these; errors.Is matches that kind and, for
// every kind except ErrMissingAuth and ErrMalformed, ErrInvalidSignature too.
var (
	// ErrMissingAuth: the request carries no SigV4 authentication at all.
	ErrMissingAuth = errors.New("sigv4: missing authentication")
	// ErrMalformed: the signature is incomplete or unparsable.
	ErrMalformed = errors.New("sigv4: incomplete signature")
	// ErrInvalidSignature: the signature is well formed but not acceptable.
	// It is the kind itself for rule violations (host not signed, both
	// header and query authentication) and the parent of the kinds below.
	ErrInvalidSignature = errors.New("sigv4: invalid signature")
	// ErrScope: the credential scope names another date, region, service
	// or terminator than this verifier accepts.
	ErrScope = errors.New("sigv4: credential scope not accepted")
	// ErrSkew: the request time is too far from the verifier's clock.
	ErrSkew = errors.New("sigv4: request time outside the allowed skew")
	// ErrExpired: a presigned request is past X-Amz-Date + X-Amz-Expires.
	ErrExpired = errors.New("sigv4: presigned request expired")
	// ErrPayloadHash: x-amz-content-sha256 is unacceptable or does not
	// match the body.
	ErrPayloadHash = errors.New("sigv4: payload hash not accepted")
	// ErrSignatureMismatch: the recomputed signature differs.
	ErrSignatureMismatch = errors.New("sigv4: signature does not match")
)

// Error is a verification failure. Message is worded as AWS words it, so a
// front end can send it unchanged as the exception message.
type Error struct {
	Kind    error
	Message string
}

func (e *Error) Error() string { return e.Message }

// Unwrap exposes the kind and, for signature kinds, ErrInvalidSignature.
func (e *Error) Unwrap() []error {
	switch e.Kind {
	case ErrMissingAuth, ErrMalformed, ErrInvalidSignature:
		return []error{e.Kind}
	}
	return []error{e.Kind, ErrInvalidSignature}
}

func fail(kind error, msg string) *Error { return &Error{Kind: kind, Message: msg} }

// Messages AWS sends (coral services, 2024), kept verbatim.
const (
	msgMissingAuth       = "Request is missing Authentication Token"
	msgSignatureMismatch = "The request signature we calculated does not match the signature you provided. " +
		"Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
	msgHostNotSigned   = "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
	msgBothAuthForms   = "Found both 'X-Amz-Algorithm' as a query-string param and 'Authorization' as HTTP header."
	msgPayloadMismatch = "The provided 'x-amz-content-sha256' header does not match what was computed."
	msgExpired         = "Request has expired"
	msgMaxExpires      = "X-Amz-Expires must be less than a week (in seconds); " +
		"that is, the given X-Amz-Expires must be less than 604800 seconds"
)
