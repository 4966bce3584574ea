package testenv

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func query(t *testing.T, dsn, q string) string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	var out string
	if err := conn.QueryRow(ctx, q).Scan(&out); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return out
}

// TestCluster starts a private cluster, checks its default collation is
// not byte order (so tests catch a missing COLLATE "C"), restarts it and
// checks its databases come back.
func TestCluster(t *testing.T) {
	c := StartCluster(t, ClusterOptions{})
	dsn := c.Server().NewDatabase(t)
	if got := query(t, dsn, `SELECT string_agg(x, ',' ORDER BY x) FROM (VALUES ('a'), ('B'), ('_x')) v(x)`); got == "B,_x,a" {
		t.Errorf("default collation sorts by bytes (%s); want a linguistic one", got)
	}
	if got := query(t, dsn, `SELECT string_agg(x, ',' ORDER BY x COLLATE "C") FROM (VALUES ('a'), ('B'), ('_x')) v(x)`); got != "B,_x,a" {
		t.Errorf("COLLATE \"C\" order = %s", got)
	}
	if err := c.Restart(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := query(t, dsn, "SELECT current_database()"); !strings.HasPrefix(got, "berth_test_") {
		t.Errorf("after restart: database %q", got)
	}
	if strings.Contains(redacted(dsn), c.password) {
		t.Errorf("redacted URL shows the password")
	}
}

// TestNewDatabaseIsolated checks two databases of one server share nothing.
func TestNewDatabaseIsolated(t *testing.T) {
	s := Postgres(t)
	a, b := s.NewDatabase(t), s.NewDatabase(t)
	if a == b {
		t.Fatal("same database twice")
	}
	conn, err := pgx.Connect(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(context.Background(), "CREATE TABLE only_in_a (x int)"); err != nil {
		t.Fatal(err)
	}
	conn.Close(context.Background())
	if got := query(t, b, "SELECT count(*)::text FROM pg_tables WHERE tablename = 'only_in_a'"); got != "0" {
		t.Errorf("table of database a visible in b")
	}
}
