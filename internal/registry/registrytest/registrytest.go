// Package registrytest builds a registry.Service over real stores (SQLite
// in a temporary directory, a filesystem blob store) and the fixtures the
// service and /v2 tests share: principals, blobs, manifests, a settable
// clock and an Authorizer built from a function.
package registrytest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/blobstore"
	"github.com/berth-registry/berth/internal/blobstore/fsblob"
	"github.com/berth-registry/berth/internal/metastore"
	"github.com/berth-registry/berth/internal/metastore/sqlstore"
	"github.com/berth-registry/berth/internal/registry"
)

// Accounts every Env creates.
const (
	Account      = "111111111111"
	OtherAccount = "222222222222"
	Region       = "us-east-1"
)

// Clock is a settable clock shared by the service and the metadata store.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// AuthorizerFunc adapts a function to registry.Authorizer.
type AuthorizerFunc func(ctx context.Context, req registry.AccessRequest) error

// Authorize implements registry.Authorizer.
func (f AuthorizerFunc) Authorize(ctx context.Context, req registry.AccessRequest) error {
	return f(ctx, req)
}

// Deny answers like registry.AccountAuthorizer except that it denies every
// action on the named repositories (of any account).
func Deny(repos ...string) registry.Authorizer {
	return AuthorizerFunc(func(ctx context.Context, req registry.AccessRequest) error {
		_, name, _ := strings.Cut(req.Resource, ":repository/")
		for _, r := range repos {
			if r == name {
				return registry.DeniedError(req, "an explicit deny in a test policy")
			}
		}
		return registry.AccountAuthorizer{}.Authorize(ctx, req)
	})
}

// Env is a Service over fresh real stores.
type Env struct {
	Meta    *sqlstore.Store
	Blobs   *fsblob.Store
	Service *registry.Service
	Clock   *Clock
	// PullTimes is the services' pull-time buffer; tests Flush it.
	PullTimes *registry.PullTimes
	opts      registry.Options
	admin     *registry.Service // AccountAuthorizer: fixtures ignore the test's Authorizer

	metaClosed bool
}

// CloseMeta closes the metadata store early, to make the service fail.
func (e *Env) CloseMeta(t testing.TB) {
	t.Helper()
	e.metaClosed = true
	if err := e.Meta.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// New opens stores in t.TempDir(), creates Account and OtherAccount, and
// builds a Service from opts; Meta, Blobs, Clock and PullTimes (a buffer
// tests flush by hand) are always the Env's, Authorizer defaults to
// AccountAuthorizer and Region to us-east-1.
func New(t testing.TB, opts registry.Options) *Env {
	t.Helper()
	dir := t.TempDir()
	clock := &Clock{t: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
	meta, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(dir, "meta.db"),
		sqlstore.Options{Clock: clock.Now})
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	e := &Env{Meta: meta, Clock: clock}
	t.Cleanup(func() {
		if !e.metaClosed {
			_ = meta.Close()
		}
	})
	blobs, err := fsblob.New(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatalf("fsblob.New: %v", err)
	}
	opts.Meta, opts.Blobs, opts.Clock = meta, blobs, clock.Now
	if opts.PullTimes, err = registry.NewPullTimes(registry.PullTimeOptions{Store: meta, Clock: clock.Now}); err != nil {
		t.Fatalf("NewPullTimes: %v", err)
	}
	e.PullTimes = opts.PullTimes
	if opts.Authorizer == nil {
		opts.Authorizer = registry.AccountAuthorizer{}
	}
	if opts.Region == "" {
		opts.Region = Region
	}
	e.Blobs, e.opts = blobs, opts
	e.Service = e.Node(t)
	adminOpts := opts
	adminOpts.Authorizer, adminOpts.MaxBlobSize, adminOpts.PullTimes = registry.AccountAuthorizer{}, 0, nil
	if e.admin, err = registry.New(adminOpts); err != nil {
		t.Fatalf("registry.New: %v", err)
	}
	for _, id := range []string{Account, OtherAccount} {
		if err := meta.CreateAccount(context.Background(), metastore.Account{ID: id}); err != nil {
			t.Fatalf("CreateAccount %s: %v", id, err)
		}
	}
	return e
}

// Node builds another Service over the same stores: a second node of a
// scaled-out deployment, with its own in-process locks.
func (e *Env) Node(t testing.TB) *registry.Service {
	t.Helper()
	s, err := registry.New(e.opts)
	if err != nil {
		t.Fatalf("registry.New: %v", err)
	}
	return s
}

// NodeWith builds another Service over the same stores with options
// changed by change (for example without pull-time tracking).
func (e *Env) NodeWith(t testing.TB, change func(*registry.Options)) *registry.Service {
	t.Helper()
	o := e.opts
	change(&o)
	s, err := registry.New(o)
	if err != nil {
		t.Fatalf("registry.New: %v", err)
	}
	return s
}

// Root is the root principal of account.
func Root(account string) auth.Principal {
	return auth.Principal{Type: auth.TypeRoot, AccountID: account}
}

// Ref names repository name of account.
func Ref(account, name string) registry.RepoRef {
	return registry.RepoRef{AccountID: account, Name: name}
}

// CreateRepository creates a repository directly in the metadata store.
func (e *Env) CreateRepository(t testing.TB, account, name string) metastore.Repository {
	t.Helper()
	r := metastore.Repository{AccountID: account, Name: name, ImageTagMutability: "MUTABLE", EncryptionType: "AES256"}
	if err := e.Meta.CreateRepository(context.Background(), &r); err != nil {
		t.Fatalf("CreateRepository %s/%s: %v", account, name, err)
	}
	return r
}

// RepositoryNames lists the names of account's repositories.
func (e *Env) RepositoryNames(t testing.TB, account string) []string {
	t.Helper()
	repos, err := e.Meta.ListRepositories(context.Background(), account, metastore.Page{Limit: 1000})
	if err != nil {
		t.Fatalf("ListRepositories: %v", err)
	}
	names := []string{}
	for _, r := range repos {
		names = append(names, r.Name)
	}
	return names
}

// UploadFiles lists the files of uploads in progress in the blob store.
func (e *Env) UploadFiles(t testing.TB) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(e.Blobs.Root(), "uploads"))
	if err != nil {
		t.Fatalf("read uploads dir: %v", err)
	}
	var names []string
	for _, ent := range ents {
		names = append(names, ent.Name())
	}
	return names
}

// StoredBlobs counts committed blobs in the blob store.
func (e *Env) StoredBlobs(t testing.TB) int {
	t.Helper()
	n := 0
	err := e.Blobs.Walk(context.Background(), func(blobstore.BlobInfo) error { n++; return nil })
	if err != nil {
		t.Fatalf("Walk: %v", err)
	}
	return n
}

// BlobBytes returns the committed bytes of d, or nil when the blob store
// does not hold it.
func (e *Env) BlobBytes(t testing.TB, d digest.Digest) []byte {
	t.Helper()
	b, err := e.Blobs.Open(context.Background(), d)
	if errors.Is(err, blobstore.ErrNotFound) {
		return nil
	}
	if err != nil {
		t.Fatalf("Open %s: %v", d, err)
	}
	defer b.Close()
	data, err := io.ReadAll(b)
	if err != nil {
		t.Fatalf("read %s: %v", d, err)
	}
	return data
}

// PutBlob pushes content into r monolithically and returns its digest.
// Fixtures are pushed past the test's Authorizer and size limit, as who.
func (e *Env) PutBlob(t testing.TB, who auth.Principal, r registry.RepoRef, content []byte) digest.Digest {
	t.Helper()
	d, err := e.admin.PutBlob(context.Background(), who, r, digest.FromBytes(content).String(),
		int64(len(content)), bytes.NewReader(content))
	if err != nil {
		t.Fatalf("PutBlob into %s: %v", r.Name, err)
	}
	return d
}

// Image describes an OCI image manifest whose blobs are given by content.
type Image struct {
	Config       []byte
	Layers       [][]byte
	ArtifactType string
	Subject      *ocispec.Descriptor
}

// Descriptor describes content of mediaType.
func Descriptor(mediaType string, content []byte) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(content), Size: int64(len(content))}
}

// JSON encodes the manifest.
func (im Image) JSON() []byte {
	m := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
		ArtifactType: im.ArtifactType, Config: Descriptor(ocispec.MediaTypeImageConfig, im.Config),
		Layers: []ocispec.Descriptor{}, Subject: im.Subject,
	}
	for _, l := range im.Layers {
		m.Layers = append(m.Layers, Descriptor(ocispec.MediaTypeImageLayerGzip, l))
	}
	return mustJSON(m)
}

// Size is the image size ECR reports: config plus layers.
func (im Image) Size() int64 {
	n := int64(len(im.Config))
	for _, l := range im.Layers {
		n += int64(len(l))
	}
	return n
}

// Push uploads the image's blobs and puts its manifest under tag (by
// digest when tag is empty), past the test's Authorizer; it returns the
// manifest body and digest.
func (e *Env) Push(t testing.TB, who auth.Principal, r registry.RepoRef, tag string, im Image) ([]byte, digest.Digest) {
	t.Helper()
	e.PutBlob(t, who, r, im.Config)
	for _, l := range im.Layers {
		e.PutBlob(t, who, r, l)
	}
	body := im.JSON()
	ref := tag
	if ref == "" {
		ref = digest.FromBytes(body).String()
	}
	res, err := e.admin.PutManifest(context.Background(), who, r, ref, ocispec.MediaTypeImageManifest, body, nil)
	if err != nil {
		t.Fatalf("PutManifest %s:%s: %v", r.Name, ref, err)
	}
	return body, res.Digest
}

// Index encodes an OCI image index of the given image manifests.
func Index(children ...[]byte) []byte {
	idx := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{}}
	for _, c := range children {
		idx.Manifests = append(idx.Manifests, Descriptor(ocispec.MediaTypeImageManifest, c))
	}
	return mustJSON(idx)
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}
