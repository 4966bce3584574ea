package registry_test

import (
	"context"
	"testing"

	"github.com/berth-registry/berth/internal/registry"
	"github.com/berth-registry/berth/internal/registry/registrytest"
)

// TestMountWithoutSourceNeedsReadAccess: a mount without `from` links a
// blob only from a repository the caller may read; a blob held only where
// the caller is denied is uploaded instead, and nothing is revealed.
func TestMountWithoutSourceNeedsReadAccess(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := registrytest.New(t, registry.Options{Authorizer: registrytest.Deny("secret/app")})
	root := registrytest.Root(registrytest.Account)
	for _, name := range []string{"secret/app", "public/app", "target/app"} {
		env.CreateRepository(t, registrytest.Account, name)
	}
	// The fixture helper ignores the test's authorizer, so it can seed the
	// denied repository.
	hidden := env.PutBlob(t, root, registrytest.Ref(registrytest.Account, "secret/app"), []byte("only in secret"))
	shared := env.PutBlob(t, root, registrytest.Ref(registrytest.Account, "public/app"), []byte("in public"))
	target := registrytest.Ref(registrytest.Account, "target/app")

	if ok, err := env.Service.MountBlob(ctx, root, target, nil, hidden.String()); err != nil || ok {
		t.Fatalf("mount of a blob held only in a denied repository = %v, %v; want upload instead", ok, err)
	}
	if _, _, err := env.Service.StatBlob(ctx, root, target, hidden.String()); err == nil {
		t.Fatal("blob from a denied repository became visible in the target")
	}
	if ok, err := env.Service.MountBlob(ctx, root, target, nil, shared.String()); err != nil || !ok {
		t.Fatalf("mount of a blob in a readable repository = %v, %v", ok, err)
	}
}
