package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/metastore"
	"github.com/berth-registry/berth/internal/testenv"
	"github.com/opencontainers/go-digest"
)

// storeCalls are the store operations an outage test exercises: prepared
// hot reads, plain reads and writes.
func storeCalls(s *Store, repoID int64) map[string]func(ctx context.Context) error {
	return map[string]func(ctx context.Context) error{
		"GetManifestByTag (prepared)": func(ctx context.Context) error {
			_, err := s.GetManifestByTag(ctx, repoID, "v1")
			return err
		},
		"GetRepository (prepared)": func(ctx context.Context) error {
			_, err := s.GetRepository(ctx, "111111111111", "app")
			return err
		},
		"ListTags": func(ctx context.Context) error {
			_, err := s.ListTags(ctx, repoID, metastore.Page{Limit: 10})
			return err
		},
		"PutAccountSetting (write)": func(ctx context.Context) error {
			return s.PutAccountSetting(ctx, "111111111111", "k", time.Now().String())
		},
		"Ping": func(ctx context.Context) error { return s.Ping(ctx) },
	}
}

// TestPostgresRestart stops the database under a running store: every call
// fails quickly with ErrUnavailable while it is down, and once it is back
// the same store (with its prepared statements) serves again by itself.
func TestPostgresRestart(t *testing.T) {
	cluster := testenv.StartCluster(t, testenv.ClusterOptions{})
	s := openPG(t, cluster.Server().NewDatabase(t), Options{MaxConns: 4})
	ctx := t.Context()
	if err := s.CreateAccount(ctx, metastore.Account{ID: "111111111111"}); err != nil {
		t.Fatal(err)
	}
	r := metastore.Repository{AccountID: "111111111111", Name: "app"}
	if err := s.CreateRepository(ctx, &r); err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"schemaVersion":2}`)
	m := metastore.Manifest{RepositoryID: r.ID, Digest: digest.FromBytes(body), MediaType: "x", Size: int64(len(body)), Body: body}
	if err := s.PutManifest(ctx, m, nil, []string{"v1"}, metastore.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	calls := storeCalls(s, r.ID)
	warm(t, calls) // statements prepared on every pooled connection

	cluster.Stop()
	for name, call := range calls {
		start := time.Now()
		err := call(ctx)
		if !errors.Is(err, metastore.ErrUnavailable) {
			t.Errorf("%s while the database is down: %v, want ErrUnavailable", name, err)
		}
		if took := time.Since(start); took > 2*defaultConnectTimeout {
			t.Errorf("%s took %s to fail", name, took)
		}
	}

	if err := cluster.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// Connections the outage broke are found and replaced on use; allow
	// the few calls that may still meet one, then require success.
	deadline := time.Now().Add(10 * time.Second)
	for name, call := range calls {
		for {
			err := call(ctx)
			if err == nil {
				break
			}
			if !errors.Is(err, metastore.ErrUnavailable) || time.Now().After(deadline) {
				t.Fatalf("%s after the restart: %v", name, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	warm(t, calls)
}

// warm runs every call from several goroutines at once, requiring success.
func warm(t *testing.T, calls map[string]func(ctx context.Context) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for range 4 {
		wg.Go(func() {
			for range 5 {
				for name, call := range calls {
					if err := call(t.Context()); err != nil {
						errs <- fmt.Errorf("%s: %w", name, err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestSQLiteLockedIsUnavailable holds SQLite's write lock from another
// connection (as an admin command or a backup would) past the busy
// timeout: writes report ErrUnavailable, then work once it is released.
func TestSQLiteLockedIsUnavailable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "meta.db")
	s, err := OpenSQLite(t.Context(), path, Options{BusyTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	other, err := sql.Open("sqlite", sqliteDSN(path, false, time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	tx, err := other.BeginTx(t.Context(), nil) // BEGIN IMMEDIATE (_txlock)
	if err != nil {
		t.Fatal(err)
	}
	err = s.CreateAccount(t.Context(), metastore.Account{ID: "111111111111"})
	if !errors.Is(err, metastore.ErrUnavailable) {
		t.Errorf("CreateAccount while locked: %v, want ErrUnavailable", err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateAccount(t.Context(), metastore.Account{ID: "111111111111"}); err != nil {
		t.Errorf("CreateAccount after release: %v", err)
	}
}

// TestClosedIsUnavailable: a write after Close is refused as unavailable.
func TestClosedIsUnavailable(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "meta.db"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateAccount(t.Context(), metastore.Account{ID: "111111111111"}); !errors.Is(err, metastore.ErrUnavailable) {
		t.Errorf("CreateAccount after Close: %v, want ErrUnavailable", err)
	}
}
