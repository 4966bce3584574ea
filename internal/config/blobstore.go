package config

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// BlobStore says where blob bytes live. It is embedded in Config; its
// YAML keys sit at the top level of the file.
type BlobStore struct {
	// BlobStore is empty for the filesystem under DataDir, or
	// s3://bucket[/prefix] for an S3-compatible object store.
	BlobStore string `yaml:"blobStore"`
	// S3Endpoint overrides the S3 endpoint (scheme://host[:port]) for
	// MinIO, Ceph and other S3-compatible stores; empty means AWS.
	S3Endpoint string `yaml:"s3Endpoint"`
	// S3Region is the bucket's region; empty takes AWS_REGION or the
	// shared AWS config, else us-east-1.
	S3Region string `yaml:"s3Region"`
	// S3AccessKeyID and S3SecretAccessKey are static credentials, both or
	// neither; without them the standard AWS credential chain is used.
	S3AccessKeyID     string `yaml:"s3AccessKeyId"`
	S3SecretAccessKey string `yaml:"s3SecretAccessKey"`
	// S3PathStyle addresses buckets as endpoint/bucket (MinIO, Ceph).
	S3PathStyle bool `yaml:"s3PathStyle"`
	// S3CAFile is a PEM bundle trusted for the endpoint, besides the
	// system roots.
	S3CAFile string `yaml:"s3CAFile"`
	// S3InsecureSkipVerify turns off TLS verification (labs only).
	S3InsecureSkipVerify bool `yaml:"s3InsecureSkipVerify"`
	// S3Redirect answers blob GETs with a 307 to a presigned S3 URL, so
	// bytes flow from the bucket to clients; off streams them through
	// Berth. It also makes GetDownloadUrlForLayer hand out presigned URLs.
	S3Redirect bool `yaml:"s3Redirect"`
	// S3RedirectExpiry is the lifetime of presigned URLs.
	S3RedirectExpiry time.Duration `yaml:"s3RedirectExpiry"`
}

// defaultBlobStore is the filesystem, with redirects on should S3 be chosen.
func defaultBlobStore() BlobStore {
	return BlobStore{S3Redirect: true, S3RedirectExpiry: 20 * time.Minute}
}

func (b *BlobStore) fields() []field {
	return []field{
		{"blob-store", "where blobs live: empty for the data directory, or s3://bucket[/prefix]", &b.BlobStore},
		{"s3-endpoint", "S3 endpoint URL for MinIO, Ceph etc. (default: AWS)", &b.S3Endpoint},
		{"s3-region", "region of the S3 bucket (default: AWS configuration, else us-east-1)", &b.S3Region},
		{"s3-access-key-id", "S3 access key id (default: the AWS credential chain)", &b.S3AccessKeyID},
		{"s3-secret-access-key", "S3 secret access key; prefer the environment variable to the flag", &b.S3SecretAccessKey},
		{"s3-path-style", "address the bucket as endpoint/bucket (MinIO, Ceph)", &b.S3PathStyle},
		{"s3-ca-file", "PEM bundle of extra CAs trusted for the S3 endpoint", &b.S3CAFile},
		{"s3-insecure-skip-verify", "skip TLS verification of the S3 endpoint (labs only)", &b.S3InsecureSkipVerify},
		{"s3-redirect", "answer blob GETs with a 307 to a presigned S3 URL (false: stream through Berth)", &b.S3Redirect},
		{"s3-redirect-expiry", "lifetime of presigned S3 URLs", &b.S3RedirectExpiry},
	}
}

// S3Bucket returns the bucket and key prefix of an s3:// blob store, and
// false for the filesystem.
func (b *BlobStore) S3Bucket() (bucket, prefix string, ok bool) {
	rest, ok := strings.CutPrefix(b.BlobStore, "s3://")
	if !ok {
		return "", "", false
	}
	bucket, prefix, _ = strings.Cut(rest, "/")
	return bucket, strings.Trim(prefix, "/"), true
}

func (b *BlobStore) validate() []error {
	var errs []error
	bucket, prefix, isS3 := b.S3Bucket()
	switch {
	case b.BlobStore == "":
		if b.S3Endpoint != "" || b.S3AccessKeyID != "" || b.S3SecretAccessKey != "" || b.S3CAFile != "" || b.S3Region != "" {
			errs = append(errs, errors.New("s3-* settings given but blob-store is not s3://bucket[/prefix]"))
		}
		return errs
	case !isS3:
		return append(errs, fmt.Errorf("blob-store %q: want empty (data directory) or s3://bucket[/prefix]", b.BlobStore))
	}
	if !validBucket(bucket) {
		errs = append(errs, fmt.Errorf("blob-store %q: bucket %q is not a valid S3 bucket name", b.BlobStore, bucket))
	}
	if strings.Contains(prefix, "//") || strings.ContainsAny(prefix, " \t\r\n") {
		errs = append(errs, fmt.Errorf("blob-store %q: prefix has an empty element or whitespace", b.BlobStore))
	}
	if b.S3Endpoint != "" {
		u, err := url.Parse(b.S3Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			errs = append(errs, fmt.Errorf("s3-endpoint %q: want http(s)://host[:port]", b.S3Endpoint))
		}
	}
	if b.S3Region != "" && !validRegion(b.S3Region) {
		errs = append(errs, fmt.Errorf("s3-region %q: want a region name such as us-east-1", b.S3Region))
	}
	if (b.S3AccessKeyID == "") != (b.S3SecretAccessKey == "") {
		errs = append(errs, errors.New("s3-access-key-id and s3-secret-access-key must be given together"))
	}
	if b.S3RedirectExpiry < time.Second || b.S3RedirectExpiry > 7*24*time.Hour {
		errs = append(errs, fmt.Errorf("s3-redirect-expiry %s: must be between 1s and 168h", b.S3RedirectExpiry))
	}
	return errs
}

// validBucket follows S3's naming rules: 3 to 63 lowercase letters,
// digits, dots and hyphens, starting and ending with a letter or digit.
func validBucket(s string) bool {
	if len(s) < 3 || len(s) > 63 || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && ((c != '.' && c != '-') || i == 0 || i == len(s)-1) {
			return false
		}
	}
	return true
}
