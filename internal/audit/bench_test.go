package audit_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/audit"
	"github.com/berth-registry/berth/internal/auth"
	"github.com/berth-registry/berth/internal/metastore"
)

// BenchmarkMiddlewareRecord is the request-path cost of one recorded call
// (note, record, queue), with the writer appending to a real SQLite store.
func BenchmarkMiddlewareRecord(b *testing.B) {
	s, _ := openStoreTB(b)
	r, err := audit.New(audit.Options{Store: s, Region: "us-east-1"})
	if err != nil {
		b.Fatal(err)
	}
	h := r.Middleware(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		n := audit.NoteFrom(req.Context())
		n.Call(audit.SourceECR, "CompleteLayerUpload", false)
		n.Principal(alice)
		n.RequestFunc(func() map[string]any {
			return map[string]any{"repositoryName": "bench/push", "registryId": "123456789012",
				"uploadId": "9c1e4e0e-7f0a-4b8e-9d7c-1a2b3c4d5e6f", "layerDigests": []any{"sha256:0123"}}
		})
		n.Resource(audit.RepositoryARN("us-east-1", "123456789012", "bench/push"), "123456789012", audit.ResourceTypeRepository)
		n.ResponseFields(map[string]any{"repositoryName": "bench/push", "layerDigest": "sha256:0123"})
	}))
	req := httptest.NewRequest(http.MethodPut, "/v2/bench/push/blobs/uploads/x", nil)
	req = req.WithContext(auth.WithRequestInfo(req.Context(), auth.RequestInfo{SourceIP: "127.0.0.1", UserAgent: "bench"}))
	w := httptest.NewRecorder()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		h.ServeHTTP(w, req)
	}
	if err := r.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkAppendAudit is the store's cost per record in batches of 32.
func BenchmarkAppendAudit(b *testing.B) {
	s, _ := openStoreTB(b)
	body := make([]byte, 1200)
	for i := range body {
		body[i] = 'x'
	}
	batch := make([]metastore.AuditEntry, 32)
	b.ResetTimer()
	for i := 0; i < b.N; i += len(batch) {
		for j := range batch {
			batch[j] = metastore.AuditEntry{Time: time.Now(), EventName: "CompleteLayerUpload", EventSource: "ecr.amazonaws.com",
				PrincipalARN: "arn:aws:iam::123456789012:root", Repository: "bench/push", Body: body}
		}
		if err := s.AppendAudit(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
}
