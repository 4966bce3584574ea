package ociapi_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/metastore"
	"github.com/berth-registry/berth/internal/registry"
	rt "github.com/berth-registry/berth/internal/registry/registrytest"
)

// TestBlobBeingCollected: while garbage collection deletes a blob, pushing
// it answers 503 UNAVAILABLE with Retry-After (docker retries 5xx), and
// mounting it answers 202 with an upload session instead.
func TestBlobBeingCollected(t *testing.T) {
	t.Parallel()
	s := newServer(t, registry.Options{})
	ctx := context.Background()
	content := []byte("being collected")
	d := s.pushBlob(t, "app", content)
	s.CreateRepository(t, rt.Account, "dst")
	if err := s.Service.DeleteBlob(ctx, rt.Root(rt.Account), rt.Ref(rt.Account, "app"), d.String()); err != nil {
		t.Fatal(err)
	}
	now := s.Clock.Now()
	marked, err := s.Meta.MarkBlobsDeleting(ctx, []digest.Digest{d},
		metastore.GCCutoffs{Before: now.Add(time.Hour), StaleMark: now.Add(-time.Hour)})
	if err != nil || len(marked) != 1 {
		t.Fatalf("MarkBlobsDeleting = %+v, %v", marked, err)
	}
	resp, body := s.do(t, req{method: http.MethodPost, path: "/v2/app/blobs/uploads/?digest=" + d.String(), body: content})
	wantError(t, resp, body, http.StatusServiceUnavailable, "UNAVAILABLE")
	wantHeaders(t, resp, map[string]string{"Retry-After": "1"})

	resp, body = s.do(t, req{method: http.MethodPost, path: "/v2/dst/blobs/uploads/?mount=" + d.String()})
	wantStatus(t, resp, body, http.StatusAccepted)
	loc := resp.Header.Get("Location")
	resp, body = s.do(t, req{method: http.MethodPut, path: loc + "?digest=" + d.String(), body: content})
	wantError(t, resp, body, http.StatusServiceUnavailable, "UNAVAILABLE")

	// Once collected, the same push stores the blob afresh.
	if err := s.Blobs.Delete(ctx, d); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Meta.RemoveBlobRecords(ctx, marked); err != nil {
		t.Fatal(err)
	}
	resp, body = s.do(t, req{method: http.MethodPost, path: "/v2/app/blobs/uploads/?digest=" + d.String(), body: content})
	wantStatus(t, resp, body, http.StatusCreated)
}
