package oci

import (
	// Registered so digest.Algorithm.Available, Digester and Verifier work for both algorithms
	// ParseDigest accepts; go-digest only looks them up in crypto's registry.
	_ "crypto/sha256"
	_ "crypto/sha512"
	"strings"

	"github.com/opencontainers/go-digest"
)

// ParseDigest parses "<algorithm>:<encoded>" as it appears in URLs, query strings and manifests.
//
// Only sha256 (64 lowercase hex) and sha512 (128 lowercase hex) are supported: they are the two
// algorithms the OCI image-spec registers, and ECR itself only produces sha256. A digest that
// follows the OCI digest grammar but names another algorithm (e.g. "blake3:...") wraps
// ErrDigestUnsupported, so a client learns it is a capability gap and not a typo; anything else
// wraps ErrDigestInvalid, including upper-case hex, which the image-spec forbids for sha256 and
// sha512 because two spellings of one digest would break content addressing.
//
// On success the result is s itself (no allocation).
func ParseDigest(s string) (digest.Digest, error) {
	if s == "" {
		return "", newError(ErrDigestInvalid, "digest is empty; want <algorithm>:<hex>, "+
			"e.g. sha256: followed by 64 lowercase hex digits")
	}
	alg, encoded, ok := strings.Cut(s, ":")
	if !ok {
		return "", newError(ErrDigestInvalid,
			"%s has no ':' between algorithm and hex; want e.g. sha256:<64 lowercase hex digits>",
			quote(s))
	}
	switch digest.Algorithm(alg) {
	case digest.SHA256:
		return checkHexDigest(s, alg, encoded, 64)
	case digest.SHA512:
		return checkHexDigest(s, alg, encoded, 128)
	}
	if !isDigestAlgorithm(alg) {
		return "", newError(ErrDigestInvalid,
			"algorithm %s in %s is malformed: want lowercase letters and digits, e.g. sha256",
			quote(alg), quote(s))
	}
	if !isDigestEncoded(encoded) {
		return "", newError(ErrDigestInvalid,
			"encoded part of %s is empty or holds characters outside [a-zA-Z0-9=_-]", quote(s))
	}
	return "", newError(ErrDigestUnsupported, "%s in %s: only sha256 and sha512 are supported",
		quote(alg), quote(s))
}

// checkHexDigest checks that encoded is exactly n lowercase hex digits.
func checkHexDigest(s, alg, encoded string, n int) (digest.Digest, error) {
	if len(encoded) != n {
		return "", newError(ErrDigestInvalid,
			"%s digest must have %d hex digits after %q, got %d in %s",
			alg, n, alg+":", len(encoded), quote(s))
	}
	for i := 0; i < len(encoded); i++ {
		c := encoded[i]
		if (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') {
			continue
		}
		if c >= 'A' && c <= 'F' {
			return "", newError(ErrDigestInvalid,
				"%s digest must use lowercase hex, found %s at offset %d of %s",
				alg, quoteByte(c), len(alg)+1+i, quote(s))
		}
		return "", newError(ErrDigestInvalid, "%s at offset %d of %s is not a hex digit",
			quoteByte(c), len(alg)+1+i, quote(s))
	}
	return digest.Digest(s), nil
}

// isDigestAlgorithm matches the OCI grammar [a-z0-9]+([+._-][a-z0-9]+)*.
func isDigestAlgorithm(alg string) bool {
	afterComponent := false
	for i := 0; i < len(alg); i++ {
		switch c := alg[i]; {
		case isLowerAlnum(c):
			afterComponent = true
		case (c == '+' || c == '.' || c == '_' || c == '-') && afterComponent:
			afterComponent = false
		default:
			return false
		}
	}
	return afterComponent
}

// isDigestEncoded matches the OCI grammar [a-zA-Z0-9=_-]+.
func isDigestEncoded(encoded string) bool {
	if encoded == "" {
		return false
	}
	for i := 0; i < len(encoded); i++ {
		if c := encoded[i]; !isAlnum(c) && c != '=' && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

// IsDigest reports whether ref, the <reference> of /v2/<name>/manifests/<reference>, should be
// treated as a digest rather than a tag. It only looks for ':' (which no valid tag contains), so
// that a malformed digest is reported as a bad digest, not as a bad tag.
func IsDigest(ref string) bool {
	return strings.IndexByte(ref, ':') >= 0
}

// Reference is a parsed <reference> of /v2/<name>/manifests/<reference>: exactly one of Tag and
// Digest is set.
type Reference struct {
	Tag    string
	Digest digest.Digest
}

// ParseReference parses ref as a digest when IsDigest(ref), else as a tag. The error wraps
// ErrDigestInvalid, ErrDigestUnsupported or ErrTagInvalid.
func ParseReference(ref string) (Reference, error) {
	if IsDigest(ref) {
		d, err := ParseDigest(ref)
		if err != nil {
			return Reference{}, err
		}
		return Reference{Digest: d}, nil
	}
	if err := ValidateTag(ref); err != nil {
		return Reference{}, err
	}
	return Reference{Tag: ref}, nil
}

// IsDigest reports whether r names a manifest by digest.
func (r Reference) IsDigest() bool { return r.Digest != "" }

// String returns the reference as it appears in a URL.
func (r Reference) String() string {
	if r.Digest != "" {
		return r.Digest.String()
	}
	return r.Tag
}
