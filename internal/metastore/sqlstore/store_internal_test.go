package sqlstore

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/metastore"
)

func openTest(t *testing.T, path string) *Store {
	t.Helper()
	s, err := OpenSQLite(context.Background(), path, Options{})
	if err != nil {
		t.Fatalf("OpenSQLite: %v", err)
	}
	return s
}

func pragma(t *testing.T, db *sql.DB, name string) string {
	t.Helper()
	var v string
	if err := db.QueryRow("PRAGMA " + name).Scan(&v); err != nil {
		t.Fatalf("PRAGMA %s: %v", name, err)
	}
	return v
}

// TestSQLitePragmas pins the durability and safety settings: they are part
// of the store's contract, not tuning.
func TestSQLitePragmas(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "a b?#%.db")) // path needing URI escaping
	defer s.Close()
	for name, want := range map[string]string{
		"journal_mode": "wal",
		"synchronous":  "2", // FULL
		"foreign_keys": "1",
		"busy_timeout": "10000",
	} {
		if got := pragma(t, s.writer, name); got != want {
			t.Errorf("writer %s = %s, want %s", name, got, want)
		}
	}
	if got := pragma(t, s.reader, "query_only"); got != "1" {
		t.Errorf("reader query_only = %s, want 1", got)
	}
	if _, err := s.reader.Exec("INSERT INTO accounts (id, created_at) VALUES ('x', 0)"); err == nil {
		t.Error("reader pool accepted a write")
	}
	if _, err := s.writer.Exec("INSERT INTO repositories (account_id, name, created_at) VALUES ('missing', 'r', 0)"); err == nil {
		t.Error("foreign keys not enforced on the writer")
	}
}

func TestMigrationsIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	if _, err := OpenSQLite(context.Background(), path, Options{NoMigrate: true}); err == nil ||
		!strings.Contains(err.Error(), "0001_init") || !strings.Contains(err.Error(), "berth migrate") {
		t.Errorf("NoMigrate on a new file: %v, want an error naming 0001_init and berth migrate", err)
	}
	for i := range 3 {
		s := openTest(t, path)
		if applied := s.Applied(); (i == 0) != (len(applied) > 0) {
			t.Errorf("open %d applied %v", i, applied)
		}
		var n int
		if err := s.writer.QueryRow("SELECT count(*) FROM schema_migrations").Scan(&n); err != nil {
			t.Fatal(err)
		}
		ms, err := loadMigrations(s.d.migrations)
		if err != nil {
			t.Fatal(err)
		}
		if n != len(ms) || n == 0 {
			t.Errorf("schema_migrations has %d rows, want %d", n, len(ms))
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	s, err := OpenSQLite(context.Background(), path, Options{NoMigrate: true})
	if err != nil {
		t.Fatalf("NoMigrate on a migrated file: %v", err)
	}
	s.Close()
}

// planCase is a statement and arguments to plan it with.
type planCase struct {
	query string
	args  []any
}

// hotQueries are the hot and GC-relevant statements, which must use
// indexes, not scans, on every engine.
func hotQueries(q queries) map[string]planCase {
	return map[string]planCase{
		"getManifestByTag": {q.getManifestByTag, []any{1, "t"}},
		"getRepository":    {q.getRepository, []any{"a", "r"}},
		"blobSize":         {q.blobSize, []any{1, "d"}},
		"blobHolders":      {q.blobHolders, []any{"d", "a", 10}},
		"manifestIsChild":  {q.manifestIsChild, []any{1, "d", "d"}},
		"referrers":        {q.referrers, []any{1, "d", "", "", "", 10}},
		"listTags":         {q.listTags, []any{1, "", 10}},
		"listRepositories": {q.listRepositories, []any{"a", "", 10}},
		"expiredUploads":   {q.expiredUploads, []any{0, 10}},

		"listImagesAny":      {q.listImagesAny, []any{1, "", 10}},
		"listImagesTagged":   {q.listImagesTagged, []any{1, "", 10}},
		"listImagesUntagged": {q.listImagesUntagged, []any{1, "", 10}},
		"getImages":          {q.getImagesPrefix + "?, ?)", []any{1, "a", "b"}},
		"listResourceTags":   {q.listResourceTags, []any{1}},
		"countResourceTags":  {q.countResourceTags, []any{1}},
		"deleteSigningKeys":  {q.deleteSigningKeysBefore, []any{0}},

		"identityPolicies": {q.identityPolicies, []any{"a", "u", "a", "u"}},
		"getUser":          {q.getUser, []any{"a", "u"}},
		"userInUse":        {q.userInUse, []any{"a", "u", "a", "u", "a", "u", "a", "u"}},
		"listPolicies":     {q.listPolicies, []any{"a", "", 10}},
		"policyAttached":   {q.policyAttached, []any{"a", "k"}},
		"policyARNExists":  {q.policyARNExists, []any{"a", "k"}},
	}
}

// TestQueryPlans checks the hot and GC-relevant queries use indexes, not scans.
func TestQueryPlans(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "meta.db"))
	defer s.Close()
	for name, c := range hotQueries(s.q) {
		text := queryPlan(t, s.reader, c.query, c.args...)
		if strings.Contains(text, "SCAN") || strings.Contains(text, "TEMP B-TREE") {
			t.Errorf("%s: plan %q scans or sorts", name, text)
		}
	}
	// DeleteUser finds a user's keys through the lower(user_name) index, not
	// by walking every key of the account.
	args := []any{"a", "u", "a", "u", "a", "u", "a", "u"}
	if text := queryPlan(t, s.reader, s.q.userInUse, args...); !strings.Contains(text, "access_keys_by_user_key (account_id=? AND <expr>=?)") {
		t.Errorf("userInUse: plan %q does not search access keys by lower(user_name)", text)
	}
}

// queryPlan returns SQLite's query plan for query, steps joined by "; ".
func queryPlan(t *testing.T, db *sql.DB, query string, args ...any) string {
	t.Helper()
	rows, err := db.Query("EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(plan, "; ")
}

// globalTables are the tables no account owns, on every engine.
var globalTables = map[string]bool{"accounts": true, "blobs": true, "signing_keys": true, "schema_migrations": true, "jobs": true,
	"cluster_values": true, "job_runs": true,
	"audit_records": true, "audit_chain": true} // the audit trail outlives accounts

// TestEveryTableOwned checks that every table but the global ones is
// removed with its account: it references accounts, or a table that does,
// through ON DELETE CASCADE. DeleteAccount relies on it.
func TestEveryTableOwned(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "meta.db"))
	defer s.Close()
	parents := map[string][]string{} // table -> tables it cascades from
	rows, err := s.reader.Query("SELECT m.name, f.\"table\" FROM sqlite_master m LEFT JOIN pragma_foreign_key_list(m.name) f" +
		" ON f.on_delete = 'CASCADE' WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite%'")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var table string
		var parent sql.NullString
		if err := rows.Scan(&table, &parent); err != nil {
			t.Fatal(err)
		}
		parents[table] = append(parents[table], parent.String)
	}
	rows.Close()
	var owned func(table string, depth int) bool
	owned = func(table string, depth int) bool {
		if table == "accounts" {
			return true
		}
		for _, p := range parents[table] {
			if p != "" && depth < 10 && owned(p, depth+1) {
				return true
			}
		}
		return false
	}
	for table := range parents {
		if !globalTables[table] && !owned(table, 0) {
			t.Errorf("table %s is not removed with its account (no ON DELETE CASCADE path to accounts)", table)
		}
	}
	if len(parents) < 15 {
		t.Errorf("found only %d tables: %v", len(parents), parents)
	}
}

func TestRebind(t *testing.T) {
	pg := dialect{placeholder: postgresPlaceholder}
	got := pg.rebind("SELECT a FROM t WHERE b = ? AND c IN (?, ?)")
	if want := "SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)"; got != want {
		t.Errorf("rebind = %q, want %q", got, want)
	}
	if q := sqliteDialect().rebind("x = ?"); q != "x = ?" {
		t.Errorf("sqlite rebind changed %q", q)
	}
}

func TestClockInjected(t *testing.T) {
	at := time.Date(2030, 1, 2, 3, 4, 5, 6, time.FixedZone("X", 3600))
	s, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "meta.db"),
		Options{Clock: func() time.Time { return at }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.CreateAccount(context.Background(), accountAt("111111111111")); err != nil {
		t.Fatal(err)
	}
	a, err := s.GetAccount(context.Background(), "111111111111")
	if err != nil {
		t.Fatal(err)
	}
	if !a.CreatedAt.Equal(at) || a.CreatedAt.Location() != time.UTC {
		t.Errorf("CreatedAt = %v, want %v in UTC", a.CreatedAt, at)
	}
}

func accountAt(id string) metastore.Account { return metastore.Account{ID: id} }
