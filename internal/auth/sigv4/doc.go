// Package sigv4 verifies AWS Signature Version 4 requests on the server
// side, written from the AWS specification
// (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv.html).
//
// A front end reads the whole (bounded) body, calls Parse, then Check (the
// checks that need no secret, so hopeless requests never reach the key
// store), looks up the secret of Parsed.AccessKeyID, then Verify with that
// body. It must decode the request (JSON, or the query-protocol form) from
// those same bytes. Host and path must be what the client sent: a proxy in
// front must not rewrite them.
//
// Errors are *Error values whose message is worded as AWS words it; the
// kind picks the exception:
//
//	kind                                  JSON 1.1 (ECR)                        query (IAM, STS)
//	ErrMissingAuth                        MissingAuthenticationTokenException   MissingAuthenticationToken
//	ErrMalformed                          IncompleteSignatureException          IncompleteSignature
//	ErrInvalidSignature and its kinds     InvalidSignatureException             SignatureDoesNotMatch
//	(ErrScope, ErrSkew, ErrExpired,
//	ErrPayloadHash, ErrSignatureMismatch)
//	unknown access key, or any session    UnrecognizedClientException           InvalidClientTokenId
//	token (the caller's checks)
//
// The unknown-key message is "The security token included in the request is invalid.".
package sigv4
