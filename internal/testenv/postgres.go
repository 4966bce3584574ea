// Package testenv gives tests the real services they need (PostgreSQL,
// MinIO) and a fresh isolated resource per test (a database, a bucket). It
// is imported by tests only.
//
// Under CI (scripts/test.sh, CI=true) environment variables name running
// servers (BERTH_TEST_POSTGRES, BERTH_TEST_S3_*) and a test that needs one
// fails when it is missing. Elsewhere, a
// test without it starts a private throwaway cluster when PostgreSQL's
// server binaries are installed, and is skipped (saying why) when they are
// not, so `go test ./internal/metastore/...` works on a laptop too.
package testenv

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvPostgres names the environment variable holding a superuser URL
// (postgres://user:password@host:port/postgres) of a server tests may
// create and drop databases on.
const EnvPostgres = "BERTH_TEST_POSTGRES"

// Server is a PostgreSQL server that tests create databases on.
type Server struct {
	admin string // superuser URL of the maintenance database
}

// inCI reports whether missing test services are a failure, not a skip.
func inCI() bool { return os.Getenv("CI") == "true" }

// Postgres returns the server named by BERTH_TEST_POSTGRES or, outside CI,
// a private cluster that lives as long as tb.
func Postgres(tb testing.TB) *Server {
	tb.Helper()
	if dsn := os.Getenv(EnvPostgres); dsn != "" {
		if _, err := url.Parse(dsn); err != nil || !strings.HasPrefix(dsn, "postgres") {
			tb.Fatalf("%s must be a postgres:// URL", EnvPostgres)
		}
		return &Server{admin: dsn}
	}
	if inCI() {
		tb.Fatalf("%s is not set: scripts/test.sh starts PostgreSQL for the tests and sets it", EnvPostgres)
	}
	return StartCluster(tb, ClusterOptions{}).Server()
}

// RunWithPostgres runs a package's tests (call it from TestMain) with one
// private cluster shared by all of them when BERTH_TEST_POSTGRES is unset
// outside CI: starting a cluster per test would cost seconds each.
func RunWithPostgres(m *testing.M) int {
	if os.Getenv(EnvPostgres) != "" || inCI() {
		return m.Run()
	}
	c, err := NewCluster(context.Background(), ClusterOptions{})
	if err != nil {
		fmt.Fprintf(os.Stderr, "testenv: no private PostgreSQL (%v); tests that need it start their own or skip\n", err)
		return m.Run()
	}
	defer c.Close()
	if err := os.Setenv(EnvPostgres, c.DSN("postgres")); err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
		return 1
	}
	return m.Run()
}

// StartCluster starts a private cluster that is closed when tb ends: for
// tests that stop or restart the server. Outside CI, a machine without
// PostgreSQL skips the test.
func StartCluster(tb testing.TB, o ClusterOptions) *Cluster {
	tb.Helper()
	c, err := NewCluster(context.Background(), o)
	if err != nil {
		if !inCI() && strings.Contains(err.Error(), "binaries not found") {
			tb.Skipf("no PostgreSQL here (set %s or install PostgreSQL): %v", EnvPostgres, err)
		}
		tb.Fatalf("start PostgreSQL: %v", err)
	}
	tb.Cleanup(func() {
		if err := c.Close(); err != nil {
			tb.Errorf("close PostgreSQL cluster: %v", err)
		}
	})
	return c
}

// PostgresDatabase is Postgres(tb).NewDatabase(tb).
func PostgresDatabase(tb testing.TB) string {
	tb.Helper()
	return Postgres(tb).NewDatabase(tb)
}

// NewDatabase creates an empty database that is dropped when tb ends and
// returns its URL.
func (s *Server) NewDatabase(tb testing.TB) string {
	tb.Helper()
	name := "berth_test_" + randomHex(8)
	if err := s.exec("CREATE DATABASE " + name); err != nil {
		tb.Fatalf("create test database: %v", err)
	}
	tb.Cleanup(func() {
		// FORCE ends sessions a failed test left open.
		if err := s.exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)"); err != nil {
			tb.Errorf("drop test database %s: %v", name, err)
		}
	})
	return s.DSN(name)
}

// DSN is the URL of database on this server, as the same user.
func (s *Server) DSN(database string) string {
	u, _ := url.Parse(s.admin) // checked by Postgres
	u.Path = "/" + database
	return u.String()
}

// exec runs one statement on the maintenance database.
func (s *Server) exec(stmt string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, s.admin)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", redacted(s.admin), err)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, stmt)
	return err
}

// redacted hides the password of a URL for messages.
func redacted(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}
