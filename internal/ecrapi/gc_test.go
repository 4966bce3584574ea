package ecrapi

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/metastore"
	"github.com/berth-registry/berth/internal/registry/registrytest"
)

// TestLayerBeingCollected: completing the upload of a layer that garbage
// collection is deleting answers ServiceUnavailable (HTTP 503), which
// every AWS SDK retries.
func TestLayerBeingCollected(t *testing.T) {
	t.Parallel()
	e := newConformanceEnv(t)
	ctx := context.Background()
	e.call("CreateRepository", obj{"repositoryName": "gc/app"})
	part := []byte("collected layer")
	root, ref := registrytest.Root(registrytest.Account), registrytest.Ref(registrytest.Account, "gc/app")
	d := e.env.PutBlob(t, root, ref, part)
	if err := e.env.Service.DeleteBlob(ctx, root, ref, d.String()); err != nil {
		t.Fatal(err)
	}
	now := e.env.Clock.Now()
	if m, err := e.env.Meta.MarkBlobsDeleting(ctx, []digest.Digest{d},
		metastore.GCCutoffs{Before: now.Add(time.Hour), StaleMark: now.Add(-time.Hour)}); err != nil || len(m) != 1 {
		t.Fatalf("MarkBlobsDeleting = %+v, %v", m, err)
	}
	id := e.call("InitiateLayerUpload", obj{"repositoryName": "gc/app"}).str("uploadId")
	e.call("UploadLayerPart", obj{"repositoryName": "gc/app", "uploadId": id, "partFirstByte": 0,
		"partLastByte": len(part) - 1, "layerPartBlob": part})
	a := e.fail("CompleteLayerUpload", obj{"repositoryName": "gc/app", "uploadId": id, "layerDigests": []string{d.String()}},
		"ServiceUnavailableException")
	if a.status != http.StatusServiceUnavailable {
		t.Errorf("HTTP %d, want 503", a.status)
	}
}
