package registry_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/blobstore/blobtest"
	"github.com/berth-registry/berth/internal/blobstore/s3blob"
	"github.com/berth-registry/berth/internal/metastore"
	"github.com/berth-registry/berth/internal/metastore/sqlstore"
	"github.com/berth-registry/berth/internal/registry"
	rt "github.com/berth-registry/berth/internal/registry/registrytest"
	"github.com/berth-registry/berth/internal/testenv"
)

// s3Service builds a Service over SQLite and a MinIO bucket.
func s3Service(t *testing.T, redirects bool) (*registry.Service, *s3blob.Store) {
	t.Helper()
	m := testenv.MinIO(t)
	blobs, err := s3blob.New(t.Context(), s3blob.Options{Bucket: m.Bucket(t), Endpoint: m.Endpoint, Region: m.Region,
		PathStyle: true, AccessKeyID: m.AccessKey, SecretAccessKey: m.SecretKey})
	if err != nil {
		t.Fatal(err)
	}
	meta, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "meta.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = meta.Close() })
	if err := meta.CreateAccount(ctx, metastore.Account{ID: rt.Account}); err != nil {
		t.Fatal(err)
	}
	r := metastore.Repository{AccountID: rt.Account, Name: "app", ImageTagMutability: "MUTABLE", EncryptionType: "AES256"}
	if err := meta.CreateRepository(ctx, &r); err != nil {
		t.Fatal(err)
	}
	s, err := registry.New(registry.Options{Meta: meta, Blobs: blobs, Authorizer: registry.AccountAuthorizer{},
		Region: rt.Region, BlobRedirects: redirects, UploadExpiry: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return s, blobs
}

// TestS3BlobRedirects pushes a blob in chunks far below S3's part minimum
// through the service onto MinIO, then downloads it: with redirects on,
// GET and GetDownloadUrlForLayer give a presigned URL that serves the
// bytes while HEAD-style callers (allowRedirect false) get the bytes;
// with redirects off, everything streams through Berth.
func TestS3BlobRedirects(t *testing.T) {
	for _, redirects := range []bool{true, false} {
		t.Run(map[bool]string{true: "on", false: "off"}[redirects], func(t *testing.T) {
			s, _ := s3Service(t, redirects)
			content := blobtest.Content(7, 6<<20+123)
			d := digest.FromBytes(content)
			st, err := s.StartUpload(ctx, root, repo)
			if err != nil {
				t.Fatal(err)
			}
			for off := 0; off < len(content); off += 1 << 20 {
				chunk := content[off:min(off+1<<20, len(content))]
				if _, err := s.AppendUpload(ctx, root, repo, st.ID, int64(off), int64(len(chunk)), bytes.NewReader(chunk)); err != nil {
					t.Fatalf("AppendUpload at %d: %v", off, err)
				}
			}
			if _, err := s.CompleteUpload(ctx, root, repo, st.ID, d.String(), -1, 0, nil); err != nil {
				t.Fatalf("CompleteUpload: %v", err)
			}

			b, err := s.OpenBlob(ctx, root, repo, d.String(), true)
			if err != nil {
				t.Fatal(err)
			}
			if (b.RedirectURL != "") != redirects {
				t.Fatalf("OpenBlob redirect URL %q with redirects %v", b.RedirectURL, redirects)
			}
			_, _, dl, err := s.LayerDownload(ctx, root, repo, d.String())
			if err != nil || (dl != "") != redirects {
				t.Fatalf("LayerDownload URL %q, %v with redirects %v", dl, err, redirects)
			}
			if redirects {
				checkURL(t, b.RedirectURL, content)
				checkURL(t, dl, content)
			} else {
				checkBody(t, b, content)
			}
			b, err = s.OpenBlob(ctx, root, repo, d.String(), false)
			if err != nil || b.RedirectURL != "" {
				t.Fatalf("OpenBlob without redirect = %q, %v", b.RedirectURL, err)
			}
			checkBody(t, b, content)
		})
	}
}

func checkURL(t *testing.T, u string, want []byte) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK || !bytes.Equal(got, want) {
		t.Fatalf("GET %s: %s, %d bytes, %v", u, resp.Status, len(got), err)
	}
}

func checkBody(t *testing.T, b registry.BlobContent, want []byte) {
	t.Helper()
	defer b.Body.Close()
	got, err := io.ReadAll(b.Body)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("blob body: %d bytes, %v", len(got), err)
	}
}

// TestS3SweepUploads: the sweeper the service runs with ExpireUploads
// removes upload bytes from the bucket, those of no session included.
func TestS3SweepUploads(t *testing.T) {
	s, blobs := s3Service(t, true)
	st, err := s.StartUpload(ctx, root, repo)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendUpload(ctx, root, repo, st.ID, 0, 5, strings.NewReader("bytes")); err != nil {
		t.Fatal(err)
	}
	// An upload the database never recorded (a crash after CreateUpload).
	if _, err := blobs.CreateUpload(ctx, blobtest.NewUploadID()); err != nil {
		t.Fatal(err)
	}
	// Nothing is idle yet.
	if n, err := s.ExpireUploads(ctx); err != nil || n != 0 {
		t.Fatalf("ExpireUploads = %d, %v; want 0", n, err)
	}
	if n, err := blobs.RemoveStaleUploads(ctx, time.Now().Add(time.Minute)); err != nil || n != 2 {
		t.Fatalf("RemoveStaleUploads = %d, %v; want both uploads", n, err)
	}
	if _, err := s.AppendUpload(ctx, root, repo, st.ID, 5, 1, strings.NewReader("x")); err == nil {
		t.Fatal("append to an upload whose bytes were swept succeeded")
	}
}
