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

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// TestGroupCommitIsolatesFailures runs many concurrent writes, every third
// of which inserts a row and then fails: only the others' rows may remain,
// and writes must share commits.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := openPool(ctx, sqliteDSN(filepath.Join(t.TempDir(), "gc.db"), false, time.Second), 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if _, err := db.Exec("CREATE TABLE t (k INTEGER PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	c := newCommitter(db, nil, nil, nil)
	t.Cleanup(c.close)

	const n = 300
	boom := errors.New("boom")
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.submit(ctx, "insert", func(ctx context.Context, tx *sql.Tx) error {
				if _, err := tx.ExecContext(ctx, "INSERT INTO t (k) VALUES (?)", i); err != nil {
					return err
				}
				if i%3 == 0 {
					return boom
				}
				return nil
			})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if (i%3 == 0) != errors.Is(err, boom) || (i%3 != 0 && err != nil) {
			t.Fatalf("write %d: err = %v", i, err)
		}
	}
	rows, err := db.Query("SELECT k FROM t ORDER BY k")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []int
	for rows.Next() {
		var k int
		if err := rows.Scan(&k); err != nil {
			t.Fatal(err)
		}
		got = append(got, k)
	}
	var want []int
	for i := range n {
		if i%3 != 0 {
			want = append(want, i)
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("rows after batch:\n got %v\nwant %v", got, want)
	}
	if commits := c.commits.Load(); commits >= n {
		t.Errorf("%d commits for %d writes: no group commit happened", commits, n)
	} else {
		t.Logf("%d writes in %d commits", n, commits)
	}
}

// TestGroupCommitAfterClose refuses writes once closed.
func TestGroupCommitAfterClose(t *testing.T) {
	t.Parallel()
	db, err := openPool(context.Background(), sqliteDSN(filepath.Join(t.TempDir(), "c.db"), false, time.Second), 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	c := newCommitter(db, nil, nil, nil)
	c.close()
	err = c.submit(context.Background(), "x", func(context.Context, *sql.Tx) error { return nil })
	if !errors.Is(err, errClosed) {
		t.Fatalf("submit after close: %v", err)
	}
}

// TestGroupCommitMetrics observes every committed transaction once, with
// batch sizes that add up to the writes.
func TestGroupCommitMetrics(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := openPool(ctx, sqliteDSN(filepath.Join(t.TempDir(), "m.db"), false, time.Second), 1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if _, err := db.Exec("CREATE TABLE t (k INTEGER PRIMARY KEY)"); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewPedanticRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	c := newCommitter(db, nil, m, nil)
	t.Cleanup(c.close)
	const n = 100
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			err := c.submit(ctx, "insert", func(ctx context.Context, tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, "INSERT INTO t (k) VALUES (?)", i)
				return err
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*dto.Histogram{}
	for _, f := range families {
		got[f.GetName()] = f.GetMetric()[0].GetHistogram()
	}
	size, took := got["berth_sqlstore_commit_batch_size"], got["berth_sqlstore_commit_duration_seconds"]
	if size == nil || took == nil {
		t.Fatalf("store series missing; have %v", got)
	}
	commits := uint64(c.commits.Load())
	if size.GetSampleCount() != commits || took.GetSampleCount() != commits {
		t.Errorf("%d commits, but %d batch sizes and %d latencies observed", commits, size.GetSampleCount(), took.GetSampleCount())
	}
	if size.GetSampleSum() != n {
		t.Errorf("batch sizes add up to %v, want %d writes", size.GetSampleSum(), n)
	}
	if took.GetSampleSum() <= 0 {
		t.Errorf("commit latencies add up to %v", took.GetSampleSum())
	}
}
