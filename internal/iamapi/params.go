package iamapi

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/identity"
)

// params are a request's form parameters, flattened as the query protocol
// flattens them: Tags.member.1.Key, TagKeys.member.2, MaxItems.
type params url.Values

func (p params) has(name string) bool {
	_, ok := p[name]
	return ok
}

func (p params) str(name string) string { return url.Values(p).Get(name) }

// list reads name.member.1, name.member.2, … up to the first gap.
func (p params) list(name string) []string {
	var out []string
	for i := 1; ; i++ {
		key := name + ".member." + strconv.Itoa(i)
		if !p.has(key) {
			return out
		}
		out = append(out, p.str(key))
	}
}

// tags reads name.member.N.Key and .Value.
func (p params) tags(name string) []identity.Tag {
	var out []identity.Tag
	for i := 1; ; i++ {
		prefix := name + ".member." + strconv.Itoa(i) + "."
		if !p.has(prefix+"Key") && !p.has(prefix+"Value") {
			return out
		}
		out = append(out, identity.Tag{Key: p.str(prefix + "Key"), Value: p.str(prefix + "Value")})
	}
}

// integer reads an integer member; its wire name is camel-cased in
// messages, as IAM does.
func (p params) integer(name string) (int, error) {
	v := p.str(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, validation(v, name, "Member must be an integer")
	}
	return n, nil
}

func (p params) boolean(name string) (bool, error) {
	switch v := p.str(name); strings.ToLower(v) {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	default:
		return false, validation(v, name, "Member must be a boolean")
	}
}

// page reads Marker and MaxItems.
func (p params) page() (identity.ListOptions, error) {
	n, err := p.integer("MaxItems")
	if err != nil {
		return identity.ListOptions{}, err
	}
	if p.has("MaxItems") && n == 0 { // the service reads 0 as "not given"
		return identity.ListOptions{}, validation("0", "MaxItems", "Member must have value greater than or equal to 1")
	}
	return identity.ListOptions{Marker: p.str("Marker"), MaxItems: n}, nil
}

func validation(value, member, constraint string) error {
	return &identity.Error{Kind: identity.ErrValidation, Message: "1 validation error detected: Value '" + value +
		"' at '" + lowerFirst(member) + "' failed to satisfy constraint: " + constraint}
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// isoTime encodes timestamps as IAM and STS do: ISO 8601, UTC, seconds.
type isoTime time.Time

// MarshalText implements encoding.TextMarshaler.
func (t isoTime) MarshalText() ([]byte, error) {
	return []byte(time.Time(t).UTC().Format("2006-01-02T15:04:05Z")), nil
}

// encodeDocument URL-encodes a policy document as IAM returns it (RFC 3986:
// everything but unreserved characters percent-encoded).
func encodeDocument(doc string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(doc) * 2)
	for i := 0; i < len(doc); i++ {
		c := doc[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
