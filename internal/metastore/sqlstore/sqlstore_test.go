package sqlstore_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/berth-registry/berth/internal/metastore"
	"github.com/berth-registry/berth/internal/metastore/sqlstore"
	"github.com/berth-registry/berth/internal/metastore/storetest"
	"github.com/opencontainers/go-digest"
)

func TestSQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) metastore.Store { return openSQLite(t, t.TempDir()) })
}

func openSQLite(tb testing.TB, dir string) *sqlstore.Store {
	tb.Helper()
	s, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(dir, "meta.db"), sqlstore.Options{})
	if err != nil {
		tb.Fatalf("OpenSQLite: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}

// TestCommittedSurvivesSIGKILL kills a pushing process with SIGKILL and
// checks every manifest whose PutManifest had returned is still there.
func TestCommittedSurvivesSIGKILL(t *testing.T) {
	if dir := os.Getenv("BERTH_SQLSTORE_CRASH_DIR"); dir != "" {
		pushUntilKilled(t, dir)
		return
	}
	if testing.Short() {
		t.Skip("spawns a process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCommittedSurvivesSIGKILL$")
	cmd.Env = append(os.Environ(), "BERTH_SQLSTORE_CRASH_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []string
	sc := bufio.NewScanner(out)
	for len(acked) < 40 && sc.Scan() {
		if tag, ok := strings.CutPrefix(sc.Text(), "acked "); ok {
			acked = append(acked, tag)
		}
	}
	_ = cmd.Process.Kill() // SIGKILL: no deferred Close, no final checkpoint
	_ = cmd.Wait()
	if len(acked) < 40 {
		t.Fatalf("child acknowledged only %d pushes", len(acked))
	}

	s := openSQLite(t, dir)
	r, err := s.GetRepository(t.Context(), "111111111111", "crash")
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range acked {
		if _, err := s.GetManifestByTag(t.Context(), r.ID, tag); err != nil {
			t.Errorf("acknowledged push %s lost: %v", tag, err)
		}
	}
}

// pushUntilKilled is the child side: push forever, acknowledging each
// PutManifest on stdout only after it returned.
func pushUntilKilled(t *testing.T, dir string) {
	ctx := context.Background()
	s, err := sqlstore.OpenSQLite(ctx, filepath.Join(dir, "meta.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateAccount(ctx, metastore.Account{ID: "111111111111"}); err != nil {
		t.Fatal(err)
	}
	r := metastore.Repository{AccountID: "111111111111", Name: "crash"}
	if err := s.CreateRepository(ctx, &r); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		body := fmt.Appendf(nil, `{"n":%d}`, i)
		m := metastore.Manifest{RepositoryID: r.ID, Digest: digest.FromBytes(body), MediaType: "x", Size: int64(len(body)), Body: body}
		tag := fmt.Sprintf("t%d", i)
		if err := s.PutManifest(ctx, m, nil, []string{tag}, metastore.PutOptions{}); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(os.Stdout, "acked", tag)
	}
}

// BenchmarkPutManifestOutbox measures a tagged manifest push with the
// event outbox on (one event in the push's transaction) and off, from many
// goroutines, as the registry pushes.
func BenchmarkPutManifestOutbox(b *testing.B) {
	for _, off := range []bool{false, true} {
		name := "events"
		if off {
			name = "no-events"
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			s, err := sqlstore.OpenSQLite(ctx, filepath.Join(b.TempDir(), "meta.db"), sqlstore.Options{NoOutbox: off})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			if err := s.CreateAccount(ctx, metastore.Account{ID: "111111111111"}); err != nil {
				b.Fatal(err)
			}
			r := metastore.Repository{AccountID: "111111111111", Name: "bench"}
			if err := s.CreateRepository(ctx, &r); err != nil {
				b.Fatal(err)
			}
			var n atomic.Int64
			b.SetParallelism(4)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					body := fmt.Appendf(nil, `{"schemaVersion":2,"n":%d,"pad":"%0900d"}`, i, 0)
					m := metastore.Manifest{RepositoryID: r.ID, Digest: digest.FromBytes(body),
						MediaType: "application/vnd.oci.image.manifest.v1+json", Size: int64(len(body)), Body: body}
					if err := s.PutManifest(ctx, m, nil, []string{fmt.Sprintf("t%d", i)}, metastore.PutOptions{}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
