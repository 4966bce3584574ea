package registry_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/registry"
	"github.com/berth-registry/berth/internal/registry/registrytest"
)

// TestRepositoryCache: reads use the cache within its TTL; a repository
// deleted on another node stops serving content at once (ids are never
// reused), and its name becomes unknown after the TTL; this node's own
// delete applies at once; pushes never use the cache.
func TestRepositoryCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := registrytest.New(t, registry.Options{RepositoryCacheTTL: time.Second})
	root := registrytest.Root(registrytest.Account)
	ref := registrytest.Ref(registrytest.Account, "cached/app")
	repo := env.CreateRepository(t, ref.AccountID, ref.Name)
	im := registrytest.Image{Config: []byte(`{"a":1}`), Layers: [][]byte{[]byte("layer")}}
	env.Push(t, root, ref, "v1", im)

	if _, err := env.Service.GetManifest(ctx, root, ref, "v1"); err != nil {
		t.Fatal(err)
	}
	// Another node deletes the repository behind this node's back.
	if err := env.Meta.DeleteRepository(ctx, repo.ID, true); err != nil {
		t.Fatal(err)
	}
	_, err := env.Service.GetManifest(ctx, root, ref, "v1")
	if !errors.Is(err, registry.ErrManifestUnknown) {
		t.Fatalf("read through stale cache entry: %v, want ErrManifestUnknown (no content)", err)
	}
	// Pushes look the repository up afresh.
	if _, err := env.Service.StartUpload(ctx, root, ref); !errors.Is(err, registry.ErrNameUnknown) {
		t.Fatalf("push used the cache: %v", err)
	}
	env.Clock.Advance(time.Second)
	if _, err := env.Service.GetManifest(ctx, root, ref, "v1"); !errors.Is(err, registry.ErrNameUnknown) {
		t.Fatalf("after TTL: %v, want ErrNameUnknown", err)
	}

	// This node's own delete applies at once.
	ref2 := registrytest.Ref(registrytest.Account, "cached/other")
	env.CreateRepository(t, ref2.AccountID, ref2.Name)
	env.Push(t, root, ref2, "v1", im)
	if _, err := env.Service.GetManifest(ctx, root, ref2, "v1"); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Service.DeleteRepository(ctx, root, ref2, true); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Service.GetManifest(ctx, root, ref2, "v1"); !errors.Is(err, registry.ErrNameUnknown) {
		t.Fatalf("after local delete: %v, want ErrNameUnknown", err)
	}
}
