package app

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/berth-registry/berth/internal/blobstore"
	"github.com/berth-registry/berth/internal/blobstore/fsblob"
	"github.com/berth-registry/berth/internal/blobstore/s3blob"
	"github.com/berth-registry/berth/internal/config"
)

// openBlobStore builds the configured blob backend: the filesystem under
// the data directory, or an S3 bucket, which must be reachable at start.
func openBlobStore(ctx context.Context, cfg config.Config) (blobstore.Store, error) {
	bucket, prefix, ok := cfg.S3Bucket()
	if !ok {
		return fsblob.New(filepath.Join(cfg.DataDir, "blobs"))
	}
	s, err := s3blob.New(ctx, s3blob.Options{
		Bucket: bucket, Prefix: prefix, Region: cfg.S3Region, Endpoint: cfg.S3Endpoint, PathStyle: cfg.S3PathStyle,
		AccessKeyID: cfg.S3AccessKeyID, SecretAccessKey: cfg.S3SecretAccessKey,
		CAFile: cfg.S3CAFile, InsecureSkipVerify: cfg.S3InsecureSkipVerify, RedirectExpiry: cfg.S3RedirectExpiry,
	})
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := s.Ping(pctx); err != nil {
		return nil, fmt.Errorf("blob store %s is not usable: %w", blobStoreName(cfg), err)
	}
	return s, nil
}

// blobStoreName names the backend for logs, without credentials.
func blobStoreName(cfg config.Config) string {
	if _, _, ok := cfg.S3Bucket(); ok {
		return cfg.BlobStore.BlobStore
	}
	return "filesystem"
}

// pingBlobs checks the blob store answers: Ping where the backend has it,
// else a Stat of the empty blob (present or not, a clean answer).
func pingBlobs(ctx context.Context, b blobstore.Store) error {
	if p, ok := b.(blobstore.Pinger); ok {
		return p.Ping(ctx)
	}
	_, err := b.Stat(ctx, "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
	if errors.Is(err, blobstore.ErrNotFound) {
		return nil
	}
	return err
}
