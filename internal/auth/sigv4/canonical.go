package sigv4

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// canonicalRequest builds the canonical request of r for the claims in p.
// path is the absolute path as sent (already URI-encoded once); it is
// encoded once more, as AWS requires for every service but S3.
func canonicalRequest(r *http.Request, p *Parsed, path, payloadHash string) []byte {
	b := make([]byte, 0, 512)
	b = append(b, r.Method...)
	b = append(b, '\n')
	b = appendEscaped(b, path, true)
	b = append(b, '\n')
	b = appendCanonicalQuery(b, r.URL.RawQuery, p.Presigned)
	b = append(b, '\n')
	for _, name := range p.SignedHeaders {
		b = append(b, name...)
		b = append(b, ':')
		b = appendHeaderValue(b, r, name)
		b = append(b, '\n')
	}
	b = append(b, '\n')
	b = append(b, p.signedHeaders...)
	b = append(b, '\n')
	b = append(b, payloadHash...)
	return b
}

// stringToSign hashes the canonical request under the claimed scope.
func stringToSign(p *Parsed, canonical []byte) []byte {
	sum := sha256.Sum256(canonical)
	b := make([]byte, 0, 128)
	b = append(b, algorithm+"\n"...)
	b = append(b, p.amzDate...)
	b = append(b, '\n')
	b = append(b, p.Date...)
	b = append(b, '/')
	b = append(b, p.Region...)
	b = append(b, '/')
	b = append(b, p.Service...)
	b = append(b, '/')
	b = append(b, p.Terminator...)
	b = append(b, '\n')
	return hex.AppendEncode(b, sum[:])
}

// requestPath is the absolute path as the client sent it.
func requestPath(r *http.Request) string {
	if path := r.URL.EscapedPath(); path != "" {
		return path
	}
	return "/"
}

// normalizePath removes empty, "." and ".." segments (RFC 3986 section
// 5.2.4 plus AWS's collapsing of "//"), keeping a trailing slash, as
// spec-following signers such as botocore do before encoding.
func normalizePath(path string) string {
	segs := strings.Split(path, "/")
	out := segs[:0]
	for _, s := range segs {
		switch s {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, s)
		}
	}
	n := "/" + strings.Join(out, "/")
	if len(out) > 0 && strings.HasSuffix(path, "/") {
		n += "/"
	}
	return n
}

// appendCanonicalQuery writes the query pairs URI-encoded, sorted by
// encoded key then encoded value; a presigned request's own signature is
// left out.
func appendCanonicalQuery(b []byte, raw string, presigned bool) []byte {
	if raw == "" {
		return b
	}
	pairs := parseQuery(raw)
	enc := make([]queryPair, 0, len(pairs))
	for _, q := range pairs {
		if presigned && q.key == "X-Amz-Signature" {
			continue
		}
		enc = append(enc, queryPair{escape(q.key), escape(q.value)})
	}
	slices.SortFunc(enc, func(x, y queryPair) int {
		return cmp.Or(strings.Compare(x.key, y.key), strings.Compare(x.value, y.value))
	})
	for i, q := range enc {
		if i > 0 {
			b = append(b, '&')
		}
		b = append(b, q.key...)
		b = append(b, '=')
		b = append(b, q.value...)
	}
	return b
}

// appendHeaderValue writes the canonical value of one signed header: each
// value trimmed with runs of spaces collapsed, several values joined by
// commas. Go's server moves Host and Transfer-Encoding out of the header
// map, and a client-side request may hold its length only in ContentLength.
func appendHeaderValue(b []byte, r *http.Request, name string) []byte {
	if name == "host" {
		host := r.Host
		if host == "" {
			host = r.URL.Host
		}
		return appendTrimmed(b, host)
	}
	values := headerValues(r.Header, name)
	if values == nil {
		switch name {
		case "content-length":
			if r.ContentLength >= 0 {
				return strconv.AppendInt(b, r.ContentLength, 10)
			}
		case "transfer-encoding":
			values = r.TransferEncoding
		}
	}
	for i, v := range values {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendTrimmed(b, v)
	}
	return b
}

func appendTrimmed(b []byte, v string) []byte {
	v = strings.TrimSpace(v)
	for i := 0; i < len(v); i++ {
		if v[i] == ' ' && i > 0 && v[i-1] == ' ' {
			continue
		}
		b = append(b, v[i])
	}
	return b
}

const upperHex = "0123456789ABCDEF"

// appendEscaped URI-encodes s the SigV4 way: everything but the RFC 3986
// unreserved characters (and "/" when keepSlash) as %XX, upper-case hex.
func appendEscaped(b []byte, s string, keepSlash bool) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) || keepSlash && c == '/' {
			b = append(b, c)
			continue
		}
		b = append(b, '%', upperHex[c>>4], upperHex[c&15])
	}
	return b
}

func escape(s string) string {
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) {
			return string(appendEscaped(make([]byte, 0, len(s)+16), s, false))
		}
	}
	return s
}

func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}
