package sqlstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/metastore"
)

// BenchmarkFinishLifecyclePreview measures writing a preview of 100,000
// results: what dominates a large preview once the evaluator has run.
func BenchmarkFinishLifecyclePreview(b *testing.B) {
	const n = 100_000
	results := make([]metastore.LifecyclePreviewResult, n)
	for i := range results {
		results[i] = metastore.LifecyclePreviewResult{Digest: digest.FromString(fmt.Sprint(i)), Tags: []string{fmt.Sprint("release-", i)},
			PushedAt: time.Unix(int64(i), 0), Action: "EXPIRE", RulePriority: 1, StorageClass: metastore.StorageStandard}
	}
	for _, e := range engines(b)[:1] {
		b.Run(e.name, func(b *testing.B) {
			s := e.open(b)
			r := benchRepo(b, s)
			ctx := context.Background()
			for b.Loop() {
				p, err := s.StartLifecyclePreview(ctx, r.ID, "{}")
				if err != nil {
					b.Fatal(err)
				}
				p.Status = metastore.PreviewComplete
				if err := s.FinishLifecyclePreview(ctx, p, results); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
