package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestBlobStoreDefaultsToTheDataDirectory(t *testing.T) {
	t.Parallel()
	cfg, err := load(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := cfg.S3Bucket(); ok || cfg.BlobStore.BlobStore != "" {
		t.Fatalf("default blob store = %q, want the data directory", cfg.BlobStore.BlobStore)
	}
	if !cfg.S3Redirect || cfg.S3RedirectExpiry != 20*time.Minute {
		t.Fatalf("S3 redirect defaults = %v, %s; want on, 20m", cfg.S3Redirect, cfg.S3RedirectExpiry)
	}
}

func TestBlobStoreS3FromFlagsEnvAndFile(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "berth.yaml")
	yaml := "blobStore: s3://from-file/x\ns3Endpoint: http://127.0.0.1:9000\ns3PathStyle: true\ns3Redirect: false\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := load(t, []string{"--config", file, "--blob-store", "s3://my-bucket/a/b/", "--s3-redirect-expiry", "5m"},
		map[string]string{"BERTH_S3_ACCESS_KEY_ID": "AKID", "BERTH_S3_SECRET_ACCESS_KEY": "secret", "BERTH_S3_REGION": "eu-west-1"})
	if err != nil {
		t.Fatal(err)
	}
	bucket, prefix, ok := cfg.S3Bucket()
	if !ok || bucket != "my-bucket" || prefix != "a/b" {
		t.Fatalf("S3Bucket = %q, %q, %v", bucket, prefix, ok)
	}
	if cfg.S3Endpoint != "http://127.0.0.1:9000" || !cfg.S3PathStyle || cfg.S3Redirect ||
		cfg.S3RedirectExpiry != 5*time.Minute || cfg.S3AccessKeyID != "AKID" || cfg.S3SecretAccessKey != "secret" ||
		cfg.S3Region != "eu-west-1" {
		t.Fatalf("S3 settings not applied: %+v", cfg.BlobStore)
	}
}

func TestBlobStoreValidation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--blob-store", "/var/blobs"}, "want empty"},
		{[]string{"--blob-store", "s3://"}, "not a valid S3 bucket"},
		{[]string{"--blob-store", "s3://Upper"}, "not a valid S3 bucket"},
		{[]string{"--blob-store", "s3://ok-bucket/a//b"}, "empty element"},
		{[]string{"--blob-store", "s3://ok-bucket", "--s3-endpoint", "minio:9000"}, "s3-endpoint"},
		{[]string{"--blob-store", "s3://ok-bucket", "--s3-access-key-id", "AKID"}, "together"},
		{[]string{"--blob-store", "s3://ok-bucket", "--s3-redirect-expiry", "0s"}, "s3-redirect-expiry"},
		{[]string{"--blob-store", "s3://ok-bucket", "--s3-region", "EU"}, "s3-region"},
		{[]string{"--s3-endpoint", "http://127.0.0.1:9000"}, "blob-store is not s3://"},
	} {
		_, err := load(t, tc.args, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: err = %v, want one mentioning %q", tc.args, err, tc.want)
		}
	}
}
