package main

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"time"

	"github.com/berth-registry/berth/internal/metastore/sqlstore"

	_ "modernc.org/sqlite" // the database/sql driver the fixture writes with
)

// gcCommand runs the garbage-collection benchmark instead of the registry
// benchmark: `go run ./test/bench gc [-blobs N] [-reference]`.
//
// It builds Berth, fills a data directory with N unreferenced blobs (blob
// records without any link, first recorded two hours ago, each with a
// small file in the blob store; written straight into SQLite and the file
// tree, which is what garbage collection then has to visit), and times one
// `berth gc --dry-run` and one `berth gc` (grace 1h) over it as separate
// processes: wall time, and peak memory as the process's maximum resident
// set size (getrusage ru_maxrss, i.e. VmHWM). It checks the pass reports and
// deletes exactly the N blobs. The same is measured at N/10 to show that
// memory does not grow with N (every listing and transaction is bounded).
// With -reference it also times the reference registry's offline
// `registry garbage-collect` over N unreferenced blobs in its own layout
// (a stopped registry; Berth's runs while serving).
const gcCommand = "gc"

type gcOptions struct {
	blobs     int
	reference bool
	refBin    string
	src, tmp  string
}

func gcBenchMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o := gcOptions{blobs: 100_000}
	fs := flag.NewFlagSet("bench gc", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&o.blobs, "blobs", o.blobs, "unreferenced blobs to collect")
	fs.BoolVar(&o.reference, "reference", false, "also time the reference registry's offline garbage-collect")
	fs.StringVar(&o.refBin, "reference-bin", "", "reference registry binary (default: found or installed as for the main benchmark)")
	fs.StringVar(&o.src, "src", "", "Berth module root (default: found from the working directory)")
	fs.StringVar(&o.tmp, "tmp", "", "parent of the temp dir (default: $TMPDIR)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if o.blobs < 10 {
		fmt.Fprintln(stderr, "bench gc: -blobs must be at least 10")
		return 2
	}
	if err := runGCBench(ctx, o, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "bench gc:", err)
		return 1
	}
	return 0
}

// gcRun is one timed process.
type gcRun struct {
	what    string
	blobs   int
	took    time.Duration
	maxRSS  int64 // bytes
	deleted int   // blobs the run reported (would have) deleted
}

func runGCBench(ctx context.Context, o gcOptions, stdout, stderr io.Writer) error {
	logf := func(format string, args ...any) { fmt.Fprintf(stderr, "bench gc: "+format+"\n", args...) }
	tmp, err := os.MkdirTemp(o.tmp, "berth-gc-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	root := o.src
	if root == "" {
		wd, err := os.Getwd()
		if err != nil {
			return err
		}
		if root, err = findModuleRoot(wd); err != nil {
			return err
		}
	}
	bin := filepath.Join(tmp, "berth")
	logf("building Berth from %s", root)
	if err := buildBerth(ctx, root, bin); err != nil {
		return err
	}
	var runs []gcRun
	for _, n := range []int{o.blobs / 10, o.blobs} {
		dir := filepath.Join(tmp, fmt.Sprintf("data-%d", n))
		logf("writing %d unreferenced blobs into %s", n, dir)
		if err := populateBerth(ctx, dir, n); err != nil {
			return err
		}
		for _, dry := range []bool{true, false} {
			args := []string{"gc", "--data-dir", dir, "--grace", "1h"}
			what := "berth gc"
			if dry {
				args, what = append(args, "--dry-run"), "berth gc --dry-run"
			}
			r, err := timeBerthGC(ctx, bin, args, what, n)
			if err != nil {
				return err
			}
			logf("%s over %d blobs: %s, peak RSS %.1f MiB", what, n, r.took.Round(time.Millisecond), mib(r.maxRSS))
			runs = append(runs, r)
		}
		if left, err := countFiles(filepath.Join(dir, "blobs", "blobs")); err != nil || left != 0 {
			return fmt.Errorf("after berth gc over %d blobs: %d files left (%v)", n, left, err)
		}
	}
	if o.reference {
		refBin, err := findReference(ctx, o.refBin, stderr)
		if err != nil {
			return err
		}
		dir := filepath.Join(tmp, "reference")
		logf("writing %d unreferenced blobs into %s", o.blobs, dir)
		if err := populateReference(dir, o.blobs); err != nil {
			return err
		}
		r, err := timeReferenceGC(ctx, refBin, tmp, dir, o.blobs)
		if err != nil {
			return err
		}
		runs = append(runs, r)
	}
	fmt.Fprintf(stdout, "Garbage collection of unreferenced blobs (64-byte files; SQLite and filesystem on one disk), one process per row\n")
	fmt.Fprintf(stdout, "%-44s %10s %12s %14s\n", "run", "blobs", "time", "peak RSS")
	for _, r := range runs {
		fmt.Fprintf(stdout, "%-44s %10d %11.2fs %10.1f MiB\n", r.what, r.blobs, r.took.Seconds(), mib(r.maxRSS))
	}
	return nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// benchBlob is the content of the i-th fixture blob and its digest.
func benchBlob(i int) ([]byte, string) {
	b := fmt.Appendf(nil, "berth gc bench blob %056d", i) // 64 bytes
	sum := sha256.Sum256(b)
	return b, hex.EncodeToString(sum[:])
}

// populateBerth creates a Berth data directory (schema by the store
// itself) holding n blob records with no link, recorded two hours ago, and
// their files in the blob store's layout.
func populateBerth(ctx context.Context, dir string, n int) error {
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "blobs", "sha256"), 0o750); err != nil {
		return err
	}
	dbPath := filepath.Join(dir, "berth.db")
	s, err := sqlstore.OpenSQLite(ctx, dbPath, sqlstore.Options{})
	if err != nil {
		return err
	}
	if err := s.Close(); err != nil {
		return err
	}
	db, err := sql.Open("sqlite", "file:"+dbPath+"?_pragma=journal_mode(WAL)")
	if err != nil {
		return err
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	ins, err := tx.PrepareContext(ctx, "INSERT INTO blobs (digest, size, created_at) VALUES (?, ?, ?)")
	if err != nil {
		return err
	}
	created := time.Now().Add(-2 * time.Hour).UnixNano()
	for i := range n {
		content, hx := benchBlob(i)
		if _, err := ins.ExecContext(ctx, "sha256:"+hx, len(content), created); err != nil {
			return err
		}
		p := filepath.Join(dir, "blobs", "blobs", "sha256", hx[:2], hx)
		if err := writeFixture(p, content); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// populateReference lays n unreferenced blobs out as the reference
// registry's filesystem driver does.
func populateReference(dir string, n int) error {
	for i := range n {
		content, hx := benchBlob(i)
		p := filepath.Join(dir, "docker", "registry", "v2", "blobs", "sha256", hx[:2], hx, "data")
		if err := writeFixture(p, content); err != nil {
			return err
		}
	}
	return os.MkdirAll(filepath.Join(dir, "docker", "registry", "v2", "repositories"), 0o750)
}

func writeFixture(p string, content []byte) error {
	err := os.WriteFile(p, content, 0o640)
	if errors.Is(err, fs.ErrNotExist) {
		if err = os.MkdirAll(filepath.Dir(p), 0o750); err == nil {
			err = os.WriteFile(p, content, 0o640)
		}
	}
	return err
}

var gcBlobsLine = regexp.MustCompile(`(?m)^blobs (?:deleted|to delete):\s+(\d+) `)

func timeBerthGC(ctx context.Context, bin string, args []string, what string, n int) (gcRun, error) {
	r, out, err := timeProcess(ctx, exec.CommandContext(ctx, bin, args...))
	if err != nil {
		return r, fmt.Errorf("%s: %w\n%s", what, err, out)
	}
	m := gcBlobsLine.FindStringSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("%s: no blob count in its report:\n%s", what, out)
	}
	r.what, r.blobs = what, n
	r.deleted, _ = strconv.Atoi(m[1])
	if r.deleted != n {
		return r, fmt.Errorf("%s reported %d blobs, want %d:\n%s", what, r.deleted, n, out)
	}
	return r, nil
}

func timeReferenceGC(ctx context.Context, bin, tmp, dir string, n int) (gcRun, error) {
	cfg := filepath.Join(tmp, "reference-gc.yml")
	if err := os.WriteFile(cfg, []byte(referenceConfig(dir, "127.0.0.1:0")), 0o600); err != nil {
		return gcRun{}, err
	}
	r, out, err := timeProcess(ctx, exec.CommandContext(ctx, bin, "garbage-collect", cfg))
	if err != nil {
		return r, fmt.Errorf("reference garbage-collect: %w\n%.2000s", err, out)
	}
	left, err := countFiles(filepath.Join(dir, "docker", "registry", "v2", "blobs"))
	if err != nil || left != 0 {
		return r, fmt.Errorf("reference garbage-collect left %d of %d blobs (%v)", left, n, err)
	}
	r.what, r.blobs, r.deleted = "reference registry garbage-collect (offline)", n, n
	return r, nil
}

// timeProcess runs cmd and returns its wall time, peak RSS and output.
func timeProcess(ctx context.Context, cmd *exec.Cmd) (gcRun, string, error) {
	cmd.Env = append(os.Environ(), "OTEL_TRACES_EXPORTER=none")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	r := gcRun{took: time.Since(start)}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && cmd.ProcessState != nil {
		r.maxRSS = ru.Maxrss << 10 // Linux reports KiB
	}
	if err == nil {
		err = ctx.Err()
	}
	return r, string(out), err
}

// countFiles counts regular files under dir.
func countFiles(dir string) (int, error) {
	n := 0
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			n++
		}
		return err
	})
	return n, err
}
