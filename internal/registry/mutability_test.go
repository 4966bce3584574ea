package registry_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/berth-registry/berth/internal/registry"
	"github.com/berth-registry/berth/internal/registry/registrytest"
)

// TestTagMutabilityExclusions pushes through the service into repositories
// of each exclusion mode: protected tags refuse to move (even to the same
// manifest), the others move.
func TestTagMutabilityExclusions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	env := registrytest.New(t, registry.Options{})
	root := registrytest.Root(registrytest.Account)
	a := registrytest.Image{Config: []byte(`{"n":"a"}`), Layers: [][]byte{[]byte("la")}}
	b := registrytest.Image{Config: []byte(`{"n":"b"}`), Layers: [][]byte{[]byte("lb")}}
	for _, c := range []struct {
		mode    string
		filters []string
		frozen  []string // tags that may not move once set
		free    []string // tags that may
	}{
		{registry.ImmutableWithExclusion, []string{"latest", "dev-*"}, []string{"v1.0"}, []string{"latest", "dev-7"}},
		{registry.MutableWithExclusion, []string{"v*.*"}, []string{"v1.0"}, []string{"latest", "dev-7"}},
	} {
		ref := registrytest.Ref(registrytest.Account, "excl/"+strings.ToLower(strings.ReplaceAll(c.mode, "_", "-")))
		if _, err := env.Service.CreateRepository(ctx, root, ref, registry.RepositorySettings{
			ImageTagMutability: c.mode, TagMutabilityExclusions: c.filters}); err != nil {
			t.Fatal(err)
		}
		for _, tag := range append(append([]string{}, c.frozen...), c.free...) {
			env.Push(t, root, ref, tag, a)
		}
		env.Push(t, root, ref, "", b) // b's blobs and manifest, untagged
		for _, tag := range c.frozen {
			for _, im := range []registrytest.Image{b, a} { // another image, then the same one again
				_, err := env.Service.PutManifest(ctx, root, ref, tag, "", im.JSON(), nil)
				if !errors.Is(err, registry.ErrTagImmutable) || !strings.Contains(registry.Message(err), "because the tag is immutable") {
					t.Errorf("%s: push to protected tag %s: %v", c.mode, tag, err)
				}
			}
		}
		for _, tag := range c.free {
			if _, err := env.Service.PutManifest(ctx, root, ref, tag, "", b.JSON(), nil); err != nil {
				t.Errorf("%s: push to excluded tag %s: %v", c.mode, tag, err)
			}
		}
	}
}
