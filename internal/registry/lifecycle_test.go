package registry_test

import (
	"context"
	"errors"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/metastore"
	"github.com/berth-registry/berth/internal/registry"
	rt "github.com/berth-registry/berth/internal/registry/registrytest"
)

// brokenTags fails every tag lookup, as a database that went away would.
type brokenTags struct{ metastore.Store }

func (brokenTags) ResolveTag(context.Context, int64, string) (digest.Digest, error) {
	return "", errors.New("connection refused")
}

// TestPreviewByTagWhenTheStoreFails: a preview page filtered by tag must
// fail when the tag cannot be looked up, not answer an empty page as if the
// image did not exist.
func TestPreviewByTagWhenTheStoreFails(t *testing.T) {
	t.Parallel()
	e := rt.New(t, registry.Options{})
	repo := e.CreateRepository(t, rt.Account, "life/app")
	ctx := context.Background()
	p, err := e.Meta.StartLifecyclePreview(ctx, repo.ID, `{"rules":[]}`)
	if err != nil {
		t.Fatal(err)
	}
	p.Status = metastore.PreviewComplete
	if err := e.Meta.FinishLifecyclePreview(ctx, p, nil); err != nil {
		t.Fatal(err)
	}
	svc := e.NodeWith(t, func(o *registry.Options) { o.Meta = brokenTags{o.Meta} })
	page, err := svc.GetLifecyclePolicyPreview(ctx, rt.Root(rt.Account), rt.Ref(rt.Account, "life/app"),
		registry.PreviewQuery{IDs: []registry.ImageID{{Tag: "v1"}}, Limit: 10})
	if err == nil {
		t.Fatalf("GetLifecyclePolicyPreview with a failing store = %+v, nil; want an error", page)
	}
}
