package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Verifier checks parsed requests against a secret. Set its fields before
// first use and do not copy it afterwards; it is safe for concurrent use.
type Verifier struct {
	// Region is the region requests must be scoped to; "" means us-east-1.
	Region string
	// Services are the accepted signing names, e.g. "ecr" or "iam", "sts".
	// The first is the one named in scope errors.
	Services []string
	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
	// MaxSkew bounds |now - X-Amz-Date|; zero means 5 minutes (AWS uses
	// 15 for STS).
	MaxSkew time.Duration
	// AllowUnsignedPayload accepts x-amz-content-sha256: UNSIGNED-PAYLOAD
	// (and presigned URLs signed that way); otherwise the body must be signed.
	AllowUnsignedPayload bool
	// KeyCacheSize is how many derived signing keys are kept; zero means
	// 1024, negative disables the cache.
	KeyCacheSize int

	once  sync.Once
	cache *keyCache
}

// Check runs the checks that need no secret, in AWS's order: the clock
// skew (or a presigned URL's validity window), the headers that must be
// signed, the credential scope. Verify runs it too; calling it before the
// key lookup keeps doomed requests away from the key store and reports
// time and scope errors ahead of unknown-key errors, as AWS does.
func (v *Verifier) Check(r *http.Request, p *Parsed) error {
	if p == nil || len(p.amzDate) != len(timeFormat) {
		return fail(ErrMalformed, "the request's signature was not parsed") // a Parsed not made by Parse
	}
	if err := v.checkTime(p); err != nil {
		return err
	}
	if !p.signs("host") {
		return fail(ErrInvalidSignature, msgHostNotSigned)
	}
	if !p.Presigned && !p.signs(p.dateHeader) {
		name := "X-Amz-Date"
		if p.dateHeader == "date" {
			name = "Date"
		}
		return fail(ErrInvalidSignature, "'"+name+"' must be a 'SignedHeader' in the AWS Authorization.")
	}
	return v.checkScope(p)
}

// Verify checks p (parsed from r) against the secret: Check, then the
// payload hash against body (the whole request body, already read by the
// caller; nil when empty), then the signature, compared in constant time.
func (v *Verifier) Verify(r *http.Request, p *Parsed, secret string, body []byte) error {
	if err := v.Check(r, p); err != nil {
		return err
	}
	payloads, err := v.payloadHashes(p, body)
	if err != nil {
		return err
	}
	paths := []string{requestPath(r)}
	if n := normalizePath(paths[0]); n != paths[0] {
		paths = append(paths, n) // spec-following signers normalize; the Go SDK does not
	}
	v.once.Do(v.init)
	key := v.cache.key(secret, p.Date, p.Region, p.Service)
	for _, path := range paths {
		for _, payload := range payloads {
			sts := stringToSign(p, canonicalRequest(r, p, path, payload))
			mac := hmac.New(sha256.New, key[:])
			mac.Write(sts)
			want := hex.AppendEncode(make([]byte, 0, 2*sha256.Size), mac.Sum(nil))
			if subtle.ConstantTimeCompare(want, []byte(p.Signature)) == 1 {
				return nil
			}
		}
	}
	return fail(ErrSignatureMismatch, msgSignatureMismatch)
}

func (v *Verifier) init() {
	size := v.KeyCacheSize
	if size == 0 {
		size = 1024
	}
	if size > 0 {
		v.cache = newKeyCache(size)
	}
}

// checkScope collects every scope complaint into one message, as AWS does.
func (v *Verifier) checkScope(p *Parsed) error {
	region := v.Region
	if region == "" {
		region = "us-east-1"
	}
	var msg strings.Builder
	if p.Region != region {
		msg.WriteString("Credential should be scoped to a valid region, not '" + p.Region + "'. ")
	}
	if !slices.Contains(v.Services, p.Service) {
		want := ""
		if len(v.Services) > 0 {
			want = v.Services[0]
		}
		msg.WriteString("Credential should be scoped to correct service: '" + want + "'. ")
	}
	if p.Terminator != terminator {
		msg.WriteString("Credential should be scoped with a valid terminator: 'aws4_request', not '" + p.Terminator + "'. ")
	}
	if day := p.amzDate[:len(dateFormat)]; p.Date != day {
		msg.WriteString("Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '" +
			p.Date + "' != '" + day + "', from '" + p.amzDate + "'.")
	}
	if msg.Len() > 0 {
		return fail(ErrScope, msg.String())
	}
	return nil
}

// checkTime applies the skew to header-signed requests and the window
// [X-Amz-Date - skew, X-Amz-Date + X-Amz-Expires] to presigned ones.
func (v *Verifier) checkTime(p *Parsed) error {
	now := time.Now()
	if v.Clock != nil {
		now = v.Clock()
	}
	now = now.UTC()
	skew := v.MaxSkew
	if skew <= 0 {
		skew = 5 * time.Minute
	}
	mins := strconv.FormatFloat(skew.Minutes(), 'f', -1, 64) + " min."
	if limit := now.Add(skew); p.Time.After(limit) {
		return fail(ErrSkew, "Signature not yet current: "+p.amzDate+" is still later than "+
			limit.Format(timeFormat)+" ("+now.Format(timeFormat)+" + "+mins+")")
	}
	if p.Presigned && p.hasExpires {
		if now.After(p.Time.Add(p.Expires)) {
			return fail(ErrExpired, msgExpired)
		}
		return nil
	}
	if limit := now.Add(-skew); p.Time.Before(limit) {
		return fail(ErrSkew, "Signature expired: "+p.amzDate+" is now earlier than "+
			limit.Format(timeFormat)+" ("+now.Format(timeFormat)+" - "+mins+")")
	}
	return nil
}

// payloadHashes returns the payload hashes the client may have signed.
// A claimed x-amz-content-sha256 must equal the body's hash (or be
// UNSIGNED-PAYLOAD where allowed); without a claim the body's hash is used,
// and a presigned URL may also have been signed UNSIGNED-PAYLOAD.
func (v *Verifier) payloadHashes(p *Parsed, body []byte) ([]string, error) {
	if p.PayloadHash == unsignedPay {
		if !v.AllowUnsignedPayload {
			return nil, fail(ErrPayloadHash, "UNSIGNED-PAYLOAD is not accepted here; sign the payload.")
		}
		return []string{unsignedPay}, nil
	}
	sum := sha256.Sum256(body)
	bodyHash := hex.EncodeToString(sum[:])
	switch {
	case p.PayloadHash != "":
		if !strings.EqualFold(p.PayloadHash, bodyHash) {
			return nil, fail(ErrPayloadHash, msgPayloadMismatch)
		}
		return []string{p.PayloadHash}, nil
	case p.Presigned && v.AllowUnsignedPayload:
		return []string{bodyHash, unsignedPay}, nil
	}
	return []string{bodyHash}, nil
}
