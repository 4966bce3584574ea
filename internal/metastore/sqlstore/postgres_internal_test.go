package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/metastore"
	"github.com/berth-registry/berth/internal/testenv"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func openPG(t *testing.T, dsn string, o Options) *Store {
	t.Helper()
	s, err := OpenPostgres(context.Background(), dsn, o)
	if err != nil {
		t.Fatalf("OpenPostgres: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestPostgresMigrationsConcurrent opens one fresh database from many
// stores at once, as nodes starting together do: each migration is applied
// exactly once, by one of them, and a later open applies nothing.
func TestPostgresMigrationsConcurrent(t *testing.T) {
	dsn := testenv.PostgresDatabase(t)
	const nodes = 6
	stores := make([]*Store, nodes)
	errs := make([]error, nodes)
	var wg sync.WaitGroup
	for i := range nodes {
		wg.Go(func() { stores[i], errs[i] = OpenPostgres(t.Context(), dsn, Options{}) })
	}
	wg.Wait()
	var applied []string
	for i, s := range stores {
		if errs[i] != nil {
			t.Fatalf("node %d: %v", i, errs[i])
		}
		applied = append(applied, s.Applied()...)
		defer s.Close()
	}
	ms, err := loadMigrations(postgresDialect().migrations)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, m := range ms {
		want = append(want, m.id())
	}
	slices.Sort(applied)
	if !slices.Equal(applied, want) {
		t.Errorf("migrations applied across nodes: %v, want each of %v once", applied, want)
	}
	var rows int
	if err := stores[0].reader.QueryRow("SELECT count(*) FROM schema_migrations").Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != len(ms) {
		t.Errorf("schema_migrations has %d rows, want %d", rows, len(ms))
	}
	if again := openPG(t, dsn, Options{}); len(again.Applied()) != 0 {
		t.Errorf("a later open applied %v", again.Applied())
	}
}

// TestPostgresNoMigrate: without --migrate a node refuses a database whose
// schema is behind, naming what is missing, and opens an up-to-date one.
func TestPostgresNoMigrate(t *testing.T) {
	dsn := testenv.PostgresDatabase(t)
	_, err := OpenPostgres(t.Context(), dsn, Options{NoMigrate: true})
	if err == nil || !strings.Contains(err.Error(), "0001_init") || !strings.Contains(err.Error(), "berth migrate") {
		t.Fatalf("NoMigrate on an empty database: %v, want an error naming 0001_init and berth migrate", err)
	}
	owner := openPG(t, dsn, Options{})
	// The node may run as a role that can read and write but not change
	// the schema: opening without migrating must run no DDL.
	role := fmt.Sprintf("berth_app_%d", time.Now().UnixNano())
	for _, stmt := range []string{
		"CREATE ROLE " + role + " LOGIN PASSWORD 'app-secret'",
		"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO " + role,
		"GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO " + role,
	} {
		if _, err := owner.writer.ExecContext(t.Context(), stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	t.Cleanup(func() {
		for _, stmt := range []string{"DROP OWNED BY " + role, "DROP ROLE " + role} {
			if _, err := owner.writer.Exec(stmt); err != nil {
				t.Errorf("%s: %v", stmt, err)
			}
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(role, "app-secret")
	s := openPG(t, u.String(), Options{NoMigrate: true})
	if err := s.CreateAccount(t.Context(), metastore.Account{ID: "111111111111"}); err != nil {
		t.Fatal(err)
	}
	r := metastore.Repository{AccountID: "111111111111", Name: "app"}
	if err := s.CreateRepository(t.Context(), &r); err != nil {
		t.Fatal(err)
	}
	if _, err := s.writer.ExecContext(t.Context(), "CREATE TABLE probe (i int)"); err == nil {
		t.Error("the role can change the schema; the test proves nothing")
	}
}

// TestPostgresSchemaCommented checks every table and column carries its
// meaning as a comment in the catalog.
func TestPostgresSchemaCommented(t *testing.T) {
	s := openPG(t, testenv.PostgresDatabase(t), Options{})
	rows, err := s.reader.Query(`SELECT c.relname, coalesce(a.attname, ''),
	        CASE WHEN a.attname IS NULL THEN obj_description(c.oid, 'pg_class') ELSE col_description(c.oid, a.attnum) END
	    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	    LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
	    WHERE n.nspname = current_schema() AND c.relkind = 'r'
	    UNION ALL
	    SELECT c.relname, '', obj_description(c.oid, 'pg_class') FROM pg_class c
	    JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = current_schema() AND c.relkind = 'r'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var table, column string
		var comment sql.NullString
		if err := rows.Scan(&table, &column, &comment); err != nil {
			t.Fatal(err)
		}
		n++
		if strings.TrimSpace(comment.String) == "" {
			t.Errorf("%s.%s has no comment", table, column)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 100 {
		t.Errorf("checked only %d tables and columns", n)
	}
}

// TestPostgresSchemaMirrorsSQLite checks both engines have the same tables
// with the same columns, each NOT NULL on one engine exactly when on the
// other: the store runs the same queries on both.
func TestPostgresSchemaMirrorsSQLite(t *testing.T) {
	pg := openPG(t, testenv.PostgresDatabase(t), Options{})
	lite := openTest(t, filepath.Join(t.TempDir(), "meta.db"))
	defer lite.Close()
	pgCols := columns(t, pg.reader, `SELECT table_name, column_name, is_nullable = 'NO' FROM information_schema.columns
	    WHERE table_schema = current_schema()`)
	liteCols := columns(t, lite.reader, `SELECT m.name, c.name, c."notnull" FROM sqlite_master m, pragma_table_info(m.name) c
	    WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite%'`)
	if !slices.Equal(pgCols, liteCols) {
		t.Errorf("schemas differ:\npostgres: %v\nsqlite:   %v", pgCols, liteCols)
	}
	if len(pgCols) < 100 {
		t.Errorf("compared only %d columns", len(pgCols))
	}
}

// columns lists "table.column notnull" rows, sorted.
func columns(t *testing.T, db *sql.DB, query string) []string {
	t.Helper()
	rows, err := db.Query(query)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var table, column string
		var notNull bool
		if err := rows.Scan(&table, &column, &notNull); err != nil {
			t.Fatal(err)
		}
		// SQLite reports a primary key column NOT NULL only when declared
		// so; every key column here is declared NOT NULL on both.
		out = append(out, fmt.Sprintf("%s.%s notnull=%v", table, column, notNull))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// TestPostgresEveryTableOwned is TestEveryTableOwned on PostgreSQL's catalog.
func TestPostgresEveryTableOwned(t *testing.T) {
	s := openPG(t, testenv.PostgresDatabase(t), Options{})
	rows, err := s.reader.Query(`SELECT c.relname, coalesce(p.relname, '') FROM pg_class c
	    JOIN pg_namespace n ON n.oid = c.relnamespace
	    LEFT JOIN pg_constraint f ON f.conrelid = c.oid AND f.contype = 'f' AND f.confdeltype = 'c'
	    LEFT JOIN pg_class p ON p.oid = f.confrelid
	    WHERE n.nspname = current_schema() AND c.relkind = 'r'`)
	if err != nil {
		t.Fatal(err)
	}
	parents := map[string][]string{}
	for rows.Next() {
		var table, parent string
		if err := rows.Scan(&table, &parent); err != nil {
			t.Fatal(err)
		}
		parents[table] = append(parents[table], parent)
	}
	rows.Close()
	var owned func(table string, depth int) bool
	owned = func(table string, depth int) bool {
		if table == "accounts" {
			return true
		}
		return slices.ContainsFunc(parents[table], func(p string) bool { return p != "" && depth < 10 && owned(p, depth+1) })
	}
	for table := range parents {
		if !globalTables[table] && !owned(table, 0) {
			t.Errorf("table %s is not removed with its account (no ON DELETE CASCADE path to accounts)", table)
		}
	}
	if len(parents) < 15 {
		t.Errorf("found only %d tables", len(parents))
	}
}

// TestPostgresQueryPlans checks the hot and GC-relevant queries can use an
// index for every table they read and need no sort: with sequential scans
// disabled, the planner still picks one only when no index serves.
func TestPostgresQueryPlans(t *testing.T) {
	s := openPG(t, testenv.PostgresDatabase(t), Options{})
	conn, err := s.reader.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(t.Context(), "SET enable_seqscan = off"); err != nil {
		t.Fatal(err)
	}
	for name, c := range hotQueries(s.q) {
		rows, err := conn.QueryContext(t.Context(), "EXPLAIN "+s.d.rebind(c.query), c.args...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var plan []string
		for rows.Next() {
			var line string
			if err := rows.Scan(&line); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, strings.TrimSpace(line))
		}
		rows.Close()
		text := strings.Join(plan, "; ")
		if strings.Contains(text, "Seq Scan") {
			t.Errorf("%s: plan scans a table: %s", name, text)
		}
		// Paged listings must come out of an index in order; other
		// statements may sort the few rows of one key (a user's tags).
		if pagedListing(name) && strings.Contains(text, "Sort Key") {
			t.Errorf("%s: paged listing sorts: %s", name, text)
		}
	}
}

func pagedListing(name string) bool {
	return strings.HasPrefix(name, "list") && name != "listResourceTags" || name == "referrers" || name == "expiredUploads"
}

// TestPostgresWriteRetried makes two writes skew (each reads what the other
// writes) and checks SERIALIZABLE aborts one, which then runs again and
// succeeds: both writes land and the retry is counted.
func TestPostgresWriteRetried(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	s := openPG(t, testenv.PostgresDatabase(t), Options{Metrics: m})
	var runs atomic.Int32
	read := make(chan struct{}, 2)
	proceed := make(chan struct{})
	write := func(id string) error {
		first := true
		return s.write(t.Context(), "skew", func(ctx context.Context, tx *sql.Tx) error {
			runs.Add(1)
			var n int
			if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM accounts").Scan(&n); err != nil {
				return err
			}
			if first { // both transactions read before either writes
				first = false
				read <- struct{}{}
				<-proceed
			}
			_, err := tx.ExecContext(ctx, s.q.insertAccount, id, int64(n))
			return err
		})
	}
	errs := make(chan error, 2)
	go func() { errs <- write("111111111111") }()
	go func() { errs <- write("222222222222") }()
	<-read
	<-read
	close(proceed)
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	if got := runs.Load(); got < 3 {
		t.Errorf("%d runs of 2 skewed writes, want a retry", got)
	}
	if got := testutil.ToFloat64(m.retries); got < 1 {
		t.Errorf("retries counted: %v, want at least 1", got)
	}
	accts, err := s.ListAccounts(t.Context())
	if err != nil || len(accts) != 2 {
		t.Fatalf("accounts = %v, %v; want both", accts, err)
	}
}

// TestPostgresPoolOptions checks the pool settings reach database/sql.
func TestPostgresPoolOptions(t *testing.T) {
	s := openPG(t, testenv.PostgresDatabase(t), Options{MaxConns: 3, MaxIdleConns: 1})
	if got := s.reader.Stats().MaxOpenConnections; got != 3 {
		t.Errorf("MaxOpenConnections = %d, want 3", got)
	}
	d := openPG(t, testenv.PostgresDatabase(t), Options{})
	if got := d.reader.Stats().MaxOpenConnections; got != defaultMaxConns {
		t.Errorf("default MaxOpenConnections = %d, want %d", got, defaultMaxConns)
	}
}

// TestOpenPostgresHidesPassword checks a failed open names the server but
// not the password.
func TestOpenPostgresHidesPassword(t *testing.T) {
	dsn := testenv.PostgresDatabase(t)
	bad := strings.Replace(dsn, "@", "x-wrong-Secret@", 1) // same user, wrong password
	_, err := OpenPostgres(t.Context(), bad, Options{})
	if err == nil {
		t.Fatal("opened with a wrong password")
	}
	if strings.Contains(err.Error(), "x-wrong-Secret") {
		t.Errorf("error shows the password: %v", err)
	}
	if !errors.Is(err, metastore.ErrUnavailable) && !strings.Contains(err.Error(), "connect") {
		t.Errorf("error %v does not say it could not connect", err)
	}
	_, err = OpenPostgres(t.Context(), "postgres://u:x-wrong-Secret@127.0.0.1:1/db?sslmode=bogus", Options{})
	if err == nil || strings.Contains(err.Error(), "x-wrong-Secret") {
		t.Errorf("unparsable DSN: %v (must fail without the password)", err)
	}
}

// TestPostgresHotReadsPrepared checks the hot reads run as statements
// prepared on the connection (parsed and planned once), not re-parsed per
// call.
func TestPostgresHotReadsPrepared(t *testing.T) {
	s := openPG(t, testenv.PostgresDatabase(t), Options{MaxConns: 1})
	if _, err := s.GetManifestByTag(t.Context(), 1, "v1"); !errors.Is(err, metastore.ErrNotFound) {
		t.Fatalf("GetManifestByTag: %v", err)
	}
	if _, err := s.GetRepository(t.Context(), "111111111111", "app"); !errors.Is(err, metastore.ErrNotFound) {
		t.Fatalf("GetRepository: %v", err)
	}
	conn, err := s.reader.Conn(t.Context()) // the pool's only connection
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for name, q := range map[string]string{"getManifestByTag": s.q.getManifestByTag, "getRepository": s.q.getRepository} {
		var n int
		if err := conn.QueryRowContext(t.Context(), "SELECT count(*) FROM pg_prepared_statements WHERE statement = $1", q).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Errorf("%s is not prepared on the connection", name)
		}
	}
}
