// Package storetest is the conformance suite every metastore.Store
// implementation runs: one call to Run from the implementation's tests.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/metastore"
	"github.com/opencontainers/go-digest"
)

// Run checks s against the metastore contract. newStore must return an
// empty store and arrange (t.Cleanup) for it to be closed; subtests run in
// parallel, each with its own store.
func Run(t *testing.T, newStore func(t *testing.T) metastore.Store) {
	groups := []struct {
		name  string
		cases []testCase
	}{
		{"Accounts", accountCases},
		{"Repositories", repositoryCases},
		{"Blobs", blobCases},
		{"Manifests", manifestCases},
		{"Tags", tagCases},
		{"Uploads", uploadCases},
		{"Immutable", immutableCases},
		{"Images", imageCases},
		{"RepositorySettings", repositorySettingsCases},
		{"RegistrySettings", registrySettingsCases},
		{"SigningKeys", signingKeyCases},
		{"IAM", iamCases},
		{"Concurrency", concurrencyCases},
		{"Jobs", jobCases},
		{"Cluster", clusterCases},
		{"GC", gcCases},
		{"Events", eventCases},
		{"StorageClass", storageCases},
		{"PullTimes", pullTimeCases},
		{"Lifecycle", lifecycleCases},
		{"Audit", auditCases},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			runCases(t, g.cases, newStore)
		})
	}
}

func runCases(t *testing.T, cases []testCase, newStore func(t *testing.T) metastore.Store) {
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newStore(t))
		})
	}
}

type testCase struct {
	name string
	fn   func(t *testing.T, s metastore.Store)
}

// Fixed, distinctive times: nanosecond precision in a non-UTC zone checks
// the round trip (same instant, returned in UTC).
var (
	zone  = time.FixedZone("UTC+05:30", 5*3600+1800)
	time1 = time.Date(2021, 3, 4, 5, 6, 7, 123456789, zone)
	time2 = time.Date(2022, 8, 9, 10, 11, 12, 987654321, zone)
)

func ctxOf(t *testing.T) context.Context { return t.Context() }

// dg returns a deterministic digest for a name.
func dg(name string) digest.Digest { return digest.FromString(name) }

// mustAccount creates an account (idempotently).
func mustAccount(t *testing.T, s metastore.Store, id string) {
	t.Helper()
	err := s.CreateAccount(ctxOf(t), metastore.Account{ID: id})
	if err != nil && !errors.Is(err, metastore.ErrAlreadyExists) {
		t.Fatalf("CreateAccount(%s): %v", id, err)
	}
}

// mustRepo creates an account and a repository in it.
func mustRepo(t *testing.T, s metastore.Store, account, name string) metastore.Repository {
	t.Helper()
	mustAccount(t, s, account)
	r := metastore.Repository{AccountID: account, Name: name, ImageTagMutability: "MUTABLE", EncryptionType: "AES256"}
	if err := s.CreateRepository(ctxOf(t), &r); err != nil {
		t.Fatalf("CreateRepository(%s/%s): %v", account, name, err)
	}
	return r
}

func mustLink(t *testing.T, s metastore.Store, repoID int64, d digest.Digest, size int64) {
	t.Helper()
	if err := s.LinkBlob(ctxOf(t), repoID, d, size, nil); err != nil {
		t.Fatalf("LinkBlob(%d, %s): %v", repoID, d, err)
	}
}

// image is a manifest with its blob references, ready to put.
type image struct {
	m    metastore.Manifest
	refs []metastore.Reference
}

// newImage links a config and n layers named after name and returns an
// image manifest referencing them.
func newImage(t *testing.T, s metastore.Store, repoID int64, name string, layers int) image {
	t.Helper()
	body := []byte(`{"schemaVersion":2,"name":"` + name + `"}`)
	img := image{m: metastore.Manifest{
		RepositoryID: repoID,
		Digest:       digest.FromBytes(body),
		MediaType:    "application/vnd.oci.image.manifest.v1+json",
		Size:         int64(len(body)),
		Body:         body,
	}}
	for i := 0; i <= layers; i++ {
		d := dg(fmt.Sprintf("%s/blob/%d", name, i))
		mustLink(t, s, repoID, d, int64(100+i))
		img.refs = append(img.refs, metastore.Reference{Kind: metastore.RefBlob, Digest: d})
		img.m.ImageSize += int64(100 + i)
	}
	return img
}

// newIndex returns an index manifest over children (already stored).
func newIndex(repoID int64, name string, children ...digest.Digest) image {
	body := []byte(`{"schemaVersion":2,"index":"` + name + `"}`)
	idx := image{m: metastore.Manifest{
		RepositoryID: repoID,
		Digest:       digest.FromBytes(body),
		MediaType:    "application/vnd.oci.image.index.v1+json",
		Size:         int64(len(body)),
		Body:         body,
	}}
	for _, c := range children {
		idx.refs = append(idx.refs, metastore.Reference{Kind: metastore.RefManifest, Digest: c})
	}
	return idx
}

func mustPut(t *testing.T, s metastore.Store, img image, tags ...string) {
	t.Helper()
	if err := s.PutManifest(ctxOf(t), img.m, img.refs, tags, metastore.PutOptions{}); err != nil {
		t.Fatalf("PutManifest(%s, %v): %v", img.m.Digest, tags, err)
	}
}

// wantErr fails unless errors.Is(err, target).
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: error = %v, want %v", what, err, target)
	}
}

func noErr(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// wantTime checks an instant survived a round trip and came back in UTC.
func wantTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
	if got.Location() != time.UTC {
		t.Errorf("%s location = %v, want UTC", what, got.Location())
	}
}

// wantRecent checks a store-stamped time is set and in UTC.
func wantRecent(t *testing.T, what string, got time.Time) {
	t.Helper()
	if got.IsZero() {
		t.Errorf("%s is zero, want stamped by the store", what)
	}
	if got.Location() != time.UTC {
		t.Errorf("%s location = %v, want UTC", what, got.Location())
	}
}
