// Package oci holds the value types of the OCI Distribution API as Berth serves it: repository
// names, tags, digests, references, media types, and manifest/index parsing and validation.
//
// It is a leaf package: it imports only the standard library, go-digest and image-spec, holds no
// state and does no I/O, so every front end (/v2, the ECR API, the console) and the service layer
// can share one definition of "valid".
//
// Every validation error wraps exactly one of the sentinels below with %w and carries a reason
// written for the person who sent the request: front ends map the sentinel to a wire code
// (DIGEST_INVALID, MANIFEST_INVALID, InvalidParameterException, ...) and may show err.Error() as
// the message.
package oci

import (
	"errors"
	"fmt"
	"strconv"
)

// Sentinel errors. Match them with errors.Is; the wrapped message explains what was wrong.
var (
	// ErrNameInvalid: a repository name breaks ECR's naming rules.
	ErrNameInvalid = errors.New("invalid repository name")
	// ErrTagInvalid: a tag breaks the OCI tag grammar.
	ErrTagInvalid = errors.New("invalid tag")
	// ErrDigestInvalid: a digest is malformed (including upper-case or wrong-length hex).
	ErrDigestInvalid = errors.New("invalid digest")
	// ErrDigestUnsupported: a well-formed digest whose algorithm Berth does not implement.
	ErrDigestUnsupported = errors.New("unsupported digest algorithm")
	// ErrManifestInvalid: a manifest body that cannot be accepted as the media type it claims.
	ErrManifestInvalid = errors.New("invalid manifest")
	// ErrManifestUnsupported: a manifest whose media type is not one Berth stores.
	ErrManifestUnsupported = errors.New("unsupported manifest media type")
)

// maxQuoted bounds how much user input an error message echoes: names, tags and digests arrive
// in URLs and manifest bodies of up to 4 MiB, and every message is logged and sent to a client.
const maxQuoted = 72

// newError wraps sentinel with a human-readable reason.
func newError(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))
}

// quote returns s as a Go-quoted string, shortened to maxQuoted bytes, so control characters and
// invalid UTF-8 cannot garble a log line or a JSON error body.
func quote(s string) string {
	if len(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:maxQuoted]) + "..."
}

// quoteByte names one byte of input for an error message: 'c' when printable ASCII, else its
// hex value, because a lone byte of a multi-byte UTF-8 sequence is not a printable character.
func quoteByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return strconv.QuoteRune(rune(c))
	}
	return fmt.Sprintf("byte 0x%02x", c)
}
