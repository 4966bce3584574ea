package sqlstore_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/berth-registry/berth/internal/metastore"
	"github.com/berth-registry/berth/internal/metastore/sqlstore"
	"github.com/berth-registry/berth/internal/testenv"
	"github.com/opencontainers/go-digest"
)

// engine opens a fresh, empty store for one benchmark run.
type engine struct {
	name string
	open func(b *testing.B) *sqlstore.Store
}

// engines are SQLite and PostgreSQL, each durable as in production: SQLite
// with synchronous=FULL, PostgreSQL on a private cluster with fsync on
// (the test clusters run without).
func engines(top *testing.B) []engine {
	var pg *testenv.Server // one cluster for all runs of the benchmark
	return []engine{
		{"sqlite", func(b *testing.B) *sqlstore.Store { return openSQLite(b, b.TempDir()) }},
		{"postgres", func(b *testing.B) *sqlstore.Store {
			if pg == nil {
				pg = testenv.StartCluster(top, testenv.ClusterOptions{Durable: true}).Server()
			}
			return openPostgres(b, pg.NewDatabase(b))
		}},
	}
}

// benchRepo creates an account and a repository.
func benchRepo(b *testing.B, s *sqlstore.Store) metastore.Repository {
	ctx := context.Background()
	if err := s.CreateAccount(ctx, metastore.Account{ID: "111111111111"}); err != nil {
		b.Fatal(err)
	}
	r := metastore.Repository{AccountID: "111111111111", Name: "bench"}
	if err := s.CreateRepository(ctx, &r); err != nil {
		b.Fatal(err)
	}
	return r
}

// benchManifest is a ~1 KiB manifest, typical of an image.
func benchManifest(repoID int64, n int) metastore.Manifest {
	body := fmt.Appendf(nil, `{"schemaVersion":2,"n":%d,"pad":"%0900d"}`, n, 0)
	return metastore.Manifest{RepositoryID: repoID, Digest: digest.FromBytes(body),
		MediaType: "application/vnd.oci.image.manifest.v1+json", Size: int64(len(body)), Body: body}
}

// BenchmarkGetManifestByTag measures the hottest read: a pull by tag, from
// many goroutines, against a repository with a realistic number of tags.
func BenchmarkGetManifestByTag(b *testing.B) {
	for _, e := range engines(b) {
		b.Run(e.name, func(b *testing.B) {
			ctx := context.Background()
			s := e.open(b)
			r := benchRepo(b, s)
			const tags = 200
			for i := range tags {
				if err := s.PutManifest(ctx, benchManifest(r.ID, i), nil, []string{fmt.Sprintf("v%d", i)}, metastore.PutOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if _, err := s.GetManifestByTag(ctx, r.ID, fmt.Sprintf("v%d", i%tags)); err != nil {
						b.Error(err)
						return
					}
					i++
				}
			})
		})
	}
}

// BenchmarkPutManifest measures durable pushes from many concurrent
// pushers: each puts a new manifest referencing two linked layers, with a
// tag of its own (group commit batches them on SQLite; PostgreSQL runs
// them as concurrent serializable transactions).
func BenchmarkPutManifest(b *testing.B) {
	for _, e := range engines(b) {
		b.Run(e.name, func(b *testing.B) {
			ctx := context.Background()
			s := e.open(b)
			r := benchRepo(b, s)
			var refs []metastore.Reference
			for _, l := range []string{"layer-a", "layer-b"} {
				d := digest.FromString(l)
				if err := s.LinkBlob(ctx, r.ID, d, 1<<20, nil); err != nil {
					b.Fatal(err)
				}
				refs = append(refs, metastore.Reference{Kind: metastore.RefBlob, Digest: d})
			}
			var next atomic.Int64
			b.SetParallelism(8) // 8 pushers per core
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					n := int(next.Add(1))
					err := s.PutManifest(ctx, benchManifest(r.ID, n), refs, []string{fmt.Sprintf("t%d", n)}, metastore.PutOptions{})
					if err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
