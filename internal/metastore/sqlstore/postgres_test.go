package sqlstore_test

import (
	"context"
	"testing"

	"github.com/berth-registry/berth/internal/metastore"
	"github.com/berth-registry/berth/internal/metastore/sqlstore"
	"github.com/berth-registry/berth/internal/metastore/storetest"
	"github.com/berth-registry/berth/internal/testenv"
)

// TestPostgres runs the conformance suite on PostgreSQL, each test on a
// fresh database; its concurrency tests race real transactions.
func TestPostgres(t *testing.T) {
	pg := testenv.Postgres(t)
	storetest.Run(t, func(t *testing.T) metastore.Store { return openPostgres(t, pg.NewDatabase(t)) })
}

func openPostgres(tb testing.TB, dsn string) *sqlstore.Store {
	tb.Helper()
	s, err := sqlstore.OpenPostgres(context.Background(), dsn, sqlstore.Options{})
	if err != nil {
		tb.Fatalf("OpenPostgres: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}
