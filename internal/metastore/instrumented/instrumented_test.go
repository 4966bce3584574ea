package instrumented_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/berth-registry/berth/internal/metastore"
	"github.com/berth-registry/berth/internal/metastore/instrumented"
	"github.com/berth-registry/berth/internal/metastore/sqlstore"
)

func TestCallsAreTimedAndErrorsCounted(t *testing.T) {
	ctx := context.Background()
	inner, err := sqlstore.OpenSQLite(ctx, filepath.Join(t.TempDir(), "meta.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	m, err := instrumented.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	s := instrumented.Wrap(inner, m)
	defer s.Close()

	if err := s.CreateAccount(ctx, metastore.Account{ID: "123456789012"}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := s.GetAccount(ctx, "123456789012"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.GetAccount(ctx, "999999999999"); !errors.Is(err, metastore.ErrNotFound) {
		t.Fatalf("GetAccount of a missing account: %v, want ErrNotFound through the wrapper", err)
	}

	want := `
# HELP berth_metastore_operation_errors_total Metadata-store calls that failed, by operation and kind: unavailable (the database is unreachable), canceled (the caller gave up) or other (any other error, answers such as not-found included).
# TYPE berth_metastore_operation_errors_total counter
berth_metastore_operation_errors_total{kind="other",operation="GetAccount"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "berth_metastore_operation_errors_total"); err != nil {
		t.Error(err)
	}
	counts := map[string]uint64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "berth_metastore_operation_duration_seconds" {
			continue
		}
		for _, metric := range mf.GetMetric() {
			counts[metric.GetLabel()[0].GetValue()] = metric.GetHistogram().GetSampleCount()
		}
	}
	if counts["GetAccount"] != 4 || counts["CreateAccount"] != 1 || len(counts) != 2 {
		t.Errorf("duration samples by operation = %v, want GetAccount 4, CreateAccount 1 and nothing else", counts)
	}

	ctxDone, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.GetAccount(ctxDone, "123456789012"); err == nil {
		t.Fatal("GetAccount with a canceled context succeeded")
	}
	if got := errCount(t, reg, "GetAccount", "canceled"); got != 1 {
		t.Errorf("canceled errors = %v, want 1", got)
	}
}

// errCount is the errors counter's value for one operation and kind.
func errCount(t *testing.T, reg *prometheus.Registry, op, kind string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "berth_metastore_operation_errors_total" {
			continue
		}
		for _, metric := range mf.GetMetric() {
			l := map[string]string{}
			for _, p := range metric.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			if l["operation"] == op && l["kind"] == kind {
				return metric.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// TestGeneratedIsCurrent regenerates store_gen.go and compares: a store
// method added without rerunning go generate fails here (or to compile).
func TestGeneratedIsCurrent(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the generator (type-checks metastore from source)")
	}
	out := filepath.Join(t.TempDir(), "store_gen.go")
	cmd := exec.Command("go", "run", "./gen", out)
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go run ./gen: %v", err)
	}
	fresh, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	committed, err := os.ReadFile("store_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(fresh, committed) {
		t.Fatal("store_gen.go is stale: run go generate ./internal/metastore/instrumented")
	}
}
