package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/metastore"
	"github.com/opencontainers/go-digest"
)

// planSteps returns SQLite's plan for query, one step per element.
func planSteps(t testing.TB, db *sql.DB, query string, args ...any) []string {
	t.Helper()
	rows, err := db.Query("EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatalf("EXPLAIN %s: %v", query, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		out = append(out, detail)
	}
	return out
}

// checkStoragePlans fails on any full scan or sort in the storage-class
// and pull-time statements: each must walk an index, so its cost follows
// what it returns, not the size of the manifests table.
func checkStoragePlans(t testing.TB, s *Store) {
	t.Helper()
	d := "sha256:" + strings.Repeat("0", 64)
	for name, c := range map[string]struct {
		query string
		args  []any
		index string
	}{
		"list ARCHIVED":     {s.sq.listImages[metastore.ImageFilter{TagStatus: metastore.TagStatusAny, Status: metastore.ImageArchived}], []any{1, "", 10}, "manifests_by_status"},
		"list ACTIVATING":   {s.sq.listImages[metastore.ImageFilter{TagStatus: metastore.TagStatusUntagged, Status: metastore.ImageActivating}], []any{1, "", 10}, "manifests_by_status"},
		"list ACTIVE":       {s.q.listImagesTagged, []any{1, "", 10}, ""},
		"activating page":   {s.sq.activatingPage, []any{10}, "manifests_by_status"},
		"lifecycle page":    {s.sq.lifecycle, []any{1, "", 1000}, ""},
		"lifecycle tags":    {s.sq.lifecycleTags, []any{1, "", d}, "tags_by_digest"},
		"lifecycle parents": {s.sq.lifecycleParents, []any{1, "", d}, "manifest_references_by_ref"},
		"record pull":       {s.sq.recordPull, []any{1, 1, d, 0}, ""},
		"blob use":          {s.sq.blobUse, []any{1, d, 1, d}, "manifest_references_by_ref"},
		"children":          {s.sq.children, []any{1, d}, ""},
		"parents":           {s.sq.parents, []any{1, d}, "manifest_references_by_ref"},
		"referrers":         {s.sq.referrers, []any{1, d}, "manifests_by_subject"},
		"list exclusions":   {s.sq.listExclusions, []any{"111111111111", "", 10}, ""},
		"count exclusions":  {s.sq.countExclusions, []any{"111111111111"}, ""},
	} {
		plan := planSteps(t, s.reader, c.query, c.args...)
		joined := strings.Join(plan, " | ")
		for _, line := range plan {
			if (strings.HasPrefix(line, "SCAN ") && line != "SCAN CONSTANT ROW") || strings.Contains(line, "TEMP B-TREE") {
				t.Errorf("%s: %q in plan %s", name, line, joined)
			}
		}
		if c.index != "" && !strings.Contains(joined, c.index) {
			t.Errorf("%s: plan %s does not use %s", name, joined, c.index)
		}
	}
}

func TestStorageQueryPlans(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "meta.db"))
	defer s.Close()
	checkStoragePlans(t, s)
}

// fillRepository stores n images in one repository in one transaction,
// like a large repository: a tag on every third, every fiftieth an index
// over the five images before it, every twentieth a referrer of the image
// before it, every tenth archived; each pulled once.
func fillRepository(t testing.TB, s *Store, n int) (int64, map[string]int) {
	t.Helper()
	ctx := context.Background()
	if err := s.CreateAccount(ctx, metastore.Account{ID: "111111111111"}); err != nil {
		t.Fatal(err)
	}
	r := metastore.Repository{AccountID: "111111111111", Name: "big"}
	if err := s.CreateRepository(ctx, &r); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tx.Rollback() }()
	ins, err := tx.Prepare("INSERT INTO manifests (repository_id, digest, media_type, artifact_type, subject_digest, size, body," +
		" image_size, pushed_at, image_status, last_pulled_at) VALUES (?, ?, ?, '', ?, 2, X'7B7D', 100, ?, ?, ?)")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	dg := func(i int) string { return digest.FromString(fmt.Sprint(i)).String() }
	for i := range n {
		mt, status := "application/vnd.oci.image.manifest.v1+json", "ACTIVE"
		var subject any
		switch {
		case i%50 == 49:
			mt = "application/vnd.oci.image.index.v1+json"
		case i%20 == 19:
			subject = dg(i - 1)
			counts["referrers"]++
		}
		if i%10 == 3 {
			status = "ARCHIVED"
			counts["archived"]++
		}
		if _, err := ins.Exec(r.ID, dg(i), mt, subject, nanos(now.Add(-time.Duration(i)*time.Minute)), status, nanos(now)); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			if _, err := tx.Exec(s.q.upsertTag, r.ID, fmt.Sprintf("t%d", i), dg(i), 0); err != nil {
				t.Fatal(err)
			}
		}
		if i%50 == 49 {
			for c := i - 5; c < i; c++ {
				if _, err := tx.Exec(s.q.insertReference, r.ID, dg(i), "manifest", dg(c)); err != nil {
					t.Fatal(err)
				}
				counts["children"]++
			}
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.writer.Exec("ANALYZE"); err != nil { // as PRAGMA optimize would, on a real database
		t.Fatal(err)
	}
	return r.ID, counts
}

// BenchmarkLifecycleCandidates walks every candidate of a 100,000-image
// repository, 1000 per page, as a lifecycle run does; one op is one whole
// walk. It also checks what the walk returns and that the plans stay on
// their indexes with statistics gathered.
func BenchmarkLifecycleCandidates(b *testing.B) {
	s, err := OpenSQLite(context.Background(), filepath.Join(b.TempDir(), "meta.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	const n = 100_000
	repoID, counts := fillRepository(b, s, n)
	checkStoragePlans(b, s)
	b.ResetTimer()
	for b.Loop() {
		var images, parents, archived, subjects, pulled int
		last := ""
		for {
			page, err := s.LifecycleCandidates(context.Background(), repoID, metastore.Page{Last: last, Limit: 1000})
			if err != nil {
				b.Fatal(err)
			}
			for _, li := range page {
				images++
				parents += len(li.Parents)
				if li.Status == metastore.ImageArchived {
					archived++
				}
				if li.Subject != "" {
					subjects++
				}
				if !li.LastPulledAt.IsZero() {
					pulled++
				}
			}
			if len(page) < 1000 {
				break
			}
			last = page[len(page)-1].Digest.String()
		}
		if images != n || parents != counts["children"] || archived != counts["archived"] || subjects != counts["referrers"] || pulled != n {
			b.Fatalf("walked %d images, %d parent links, %d archived, %d referrers, %d pulled; want %d, %v, all pulled",
				images, parents, archived, subjects, pulled, n, counts)
		}
	}
}

// TestAuditLookupPlans: lookups by principal ARN and by repository, the
// common ones, walk their index rather than the whole trail.
func TestAuditLookupPlans(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "meta.db"))
	defer s.Close()
	for name, c := range map[string]struct {
		f     metastore.AuditFilter
		index string
	}{
		"principal ARN": {metastore.AuditFilter{Principal: "arn:aws:iam::111111111111:user/alice"}, "audit_records_by_principal"},
		"repository":    {metastore.AuditFilter{Resource: "team/app"}, "audit_records_by_repository"},
		"event name":    {metastore.AuditFilter{EventName: "PutImage"}, "audit_records_by_name"},
	} {
		where, args := auditWhere(c.f)
		plan := strings.Join(planSteps(t, s.reader, "SELECT seq FROM audit_records WHERE "+where+" ORDER BY seq DESC LIMIT 50", args...), " | ")
		if !strings.Contains(plan, c.index) {
			t.Errorf("lookup by %s: plan %s does not use %s", name, plan, c.index)
		}
	}
}
