package identity

import (
	"crypto/sha256"
	"encoding/base64"
	"time"
	"unicode/utf8"
)

// Tag is an IAM resource tag.
type Tag struct {
	Key   string
	Value string
}

// User is an IAM user, or the account root when Name is empty (GetUser by
// the root without a user name).
type User struct {
	Name      string
	ID        string // AIDA…; the account id for the root
	ARN       string
	Path      string
	CreatedAt time.Time
	Tags      []Tag
}

// Access key statuses, as IAM names them.
const (
	StatusActive   = "Active"
	StatusInactive = "Inactive"
)

// AccessKey describes an access key. Secret is set only by CreateAccessKey:
// IAM shows a secret once.
type AccessKey struct {
	ID        string
	UserName  string // empty for the account root's keys
	Status    string // StatusActive or StatusInactive
	CreatedAt time.Time
	Secret    string
}

// InlinePolicy is a policy embedded in a user.
type InlinePolicy struct {
	UserName string
	Name     string
	Document string // the JSON as stored
}

// Policy is a managed policy: customer-managed, or AWS-managed when
// AWSManaged is set. Berth keeps one version of each, DefaultVersionID.
type Policy struct {
	Name             string
	ID               string // ANPA…
	ARN              string
	Path             string
	Description      string
	DefaultVersionID string
	AttachmentCount  int
	CreatedAt        time.Time
	UpdatedAt        time.Time
	AWSManaged       bool
}

// PolicyVersion is one version of a managed policy.
type PolicyVersion struct {
	VersionID string
	Document  string // the JSON as stored; front ends encode it as IAM does
	IsDefault bool
	CreatedAt time.Time
}

// AttachedPolicy names a managed policy attached to a user.
type AttachedPolicy struct {
	Name string
	ARN  string
}

// CallerIdentity is STS GetCallerIdentity's answer.
type CallerIdentity struct {
	Account string
	ARN     string
	UserID  string
}

// ListOptions bounds a listing as IAM's Marker and MaxItems do.
type ListOptions struct {
	Marker   string // from a previous Page; "" starts at the beginning
	MaxItems int    // 1–1000; 0 means 100
}

// Page is one page of a listing. Marker is set when more items follow
// (IsTruncated); pass it back in ListOptions to continue.
type Page[T any] struct {
	Items  []T
	Marker string
}

// versionID is the one version Berth keeps of a managed policy.
const versionID = "v1"

// Markers are opaque to clients: base64 of the last item's key. Listings
// kept in memory use a hash of the key, so markers stay short for long keys.
func encodeMarker(key string) string { return base64.RawURLEncoding.EncodeToString([]byte(key)) }

func decodeMarker(m string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(m)
	if err != nil || !utf8.Valid(b) { // a marker Berth issued holds a name, always UTF-8
		return "", errorf(ErrInvalidInput, "Invalid value for parameter Marker.")
	}
	return string(b), nil
}

func hashMarker(key string) string {
	sum := sha256.Sum256([]byte(key))
	return base64.RawURLEncoding.EncodeToString(sum[:12])
}

func pageSize(o ListOptions) int {
	if o.MaxItems <= 0 {
		return defaultItems
	}
	return o.MaxItems
}

// pageSlice pages a listing held in memory: the items after the one whose
// key the marker names.
func pageSlice[T any](items []T, key func(T) string, o ListOptions) (Page[T], error) {
	start := 0
	if o.Marker != "" {
		start = -1
		for i, it := range items {
			if hashMarker(key(it)) == o.Marker {
				start = i + 1
				break
			}
		}
		if start < 0 {
			return Page[T]{}, errorf(ErrInvalidInput, "Invalid value for parameter Marker.")
		}
	}
	rest := items[start:]
	n := pageSize(o)
	if len(rest) <= n {
		return Page[T]{Items: rest}, nil
	}
	return Page[T]{Items: rest[:n], Marker: hashMarker(key(rest[n-1]))}, nil
}

// collect pages a listing the store serves in key order: fetch returns
// items after last, keep filters them, and collect gathers one item more
// than a page to learn whether the listing is truncated.
func collect[T any](o ListOptions, last string, fetch func(last string, limit int) ([]T, error),
	key func(T) string, keep func(T) bool,
) (Page[T], error) {
	n := pageSize(o)
	var out []T
	batch := max(n+1, 100)
	for len(out) <= n {
		items, err := fetch(last, batch)
		if err != nil {
			return Page[T]{}, err
		}
		for _, it := range items {
			if keep == nil || keep(it) {
				out = append(out, it)
				if len(out) > n {
					break
				}
			}
		}
		if len(items) < batch {
			break
		}
		last = key(items[len(items)-1])
	}
	if len(out) <= n {
		return Page[T]{Items: out}, nil
	}
	return Page[T]{Items: out[:n], Marker: encodeMarker(key(out[n-1]))}, nil
}
