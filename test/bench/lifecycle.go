package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/internal/lifecycle"
	"github.com/berth-registry/berth/internal/metastore"
	"github.com/berth-registry/berth/internal/metastore/sqlstore"
	"github.com/berth-registry/berth/internal/worker/lifecyclerun"
)

// lifecycleCommand runs the lifecycle preview benchmark instead of the
// registry benchmark: `go run ./test/bench lifecycle [-images N] [-postgres URL]`.
//
// It fills one repository with N images through the store's own
// PutManifest (a third untagged, the rest tagged release-* or dev-*,
// pushed over the past year, a tenth pulled recently), starts a preview of
// a four-rule policy and times the lifecycle-preview job's work on it
// (lifecyclerun.Runner.Preview: read every candidate, evaluate, write the
// results and summary in one transaction), reporting the wall time, the
// time of each phase measured apart, the results written and the Go heap's
// peak during the preview (sampled every 5 ms). SQLite by default; with
// -postgres, a PostgreSQL database (it must be empty: the store migrates it).
const lifecycleCommand = "lifecycle"

// benchLifecyclePolicy is a realistic policy touching every kind of rule.
const benchLifecyclePolicy = `{"rules":[
 {"rulePriority":1,"description":"keep the 1000 newest releases","selection":{"tagStatus":"tagged","tagPrefixList":["release-"],"countType":"imageCountMoreThan","countNumber":1000},"action":{"type":"expire"}},
 {"rulePriority":2,"description":"expire dev builds after 30 days","selection":{"tagStatus":"tagged","tagPatternList":["dev-*"],"countType":"sinceImagePushed","countUnit":"days","countNumber":30},"action":{"type":"expire"}},
 {"rulePriority":3,"description":"expire untagged images after a week","selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":7},"action":{"type":"expire"}},
 {"rulePriority":4,"description":"archive what nobody pulled for 90 days","selection":{"tagStatus":"any","countType":"sinceImagePulled","countUnit":"days","countNumber":90},"action":{"type":"transition","targetStorageClass":"archive"}}]}`

func lifecycleBenchMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	images, pg, profile := 100_000, "", ""
	fs := flag.NewFlagSet("bench lifecycle", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&images, "images", images, "images in the repository")
	fs.StringVar(&pg, "postgres", "", "PostgreSQL database URL (default: SQLite in a temp dir)")
	fs.StringVar(&profile, "cpuprofile", "", "write a CPU profile of the preview job to this file")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if err := runLifecycleBench(ctx, images, pg, profile, stdout); err != nil {
		fmt.Fprintln(stderr, "bench lifecycle:", err)
		return 1
	}
	return 0
}

func runLifecycleBench(ctx context.Context, n int, pg, profile string, stdout io.Writer) error {
	var s *sqlstore.Store
	var err error
	engine, path := "sqlite", ""
	if pg != "" {
		engine = "postgres"
		s, err = sqlstore.OpenPostgres(ctx, pg, sqlstore.Options{})
	} else {
		dir, derr := os.MkdirTemp("", "berth-lifecycle-bench-")
		if derr != nil {
			return derr
		}
		defer os.RemoveAll(dir)
		path = filepath.Join(dir, "berth.db")
		s, err = sqlstore.OpenSQLite(ctx, path, sqlstore.Options{})
	}
	if err != nil {
		return err
	}
	defer s.Close()
	now := time.Now()
	repo, fill, err := fillLifecycleRepo(ctx, s, n, now)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "lifecycle preview benchmark (%s): %d images filled in %v\n", engine, n, fill.Round(time.Millisecond))
	if pg == "" {
		// Reopen, as a long-running node would have: closing runs PRAGMA
		// optimize, which gathers the planner statistics the queries rely on.
		if err := s.Close(); err != nil {
			return err
		}
		if s, err = sqlstore.OpenSQLite(ctx, path, sqlstore.Options{}); err != nil {
			return err
		}
		defer s.Close()
	}

	// The phases apart: read every candidate; evaluate.
	runner, err := lifecyclerun.New(lifecyclerun.Options{Store: s})
	if err != nil {
		return err
	}
	t0 := time.Now()
	var cands []metastore.LifecycleImage
	for last := ""; ; {
		page, err := s.LifecycleCandidates(ctx, repo, metastore.Page{Last: last, Limit: 5000})
		if err != nil {
			return err
		}
		cands = append(cands, page...)
		if len(page) < 5000 {
			break
		}
		last = page[len(page)-1].Digest.String()
	}
	load := time.Since(t0)
	imgs := make([]lifecycle.Image, len(cands))
	for i, c := range cands {
		class := lifecycle.Standard
		if c.Status != metastore.ImageActive {
			class = lifecycle.Archive
		}
		imgs[i] = lifecycle.Image{Digest: c.Digest, Tags: c.Tags, PushedAt: c.PushedAt, LastRecordedPullTime: c.LastPulledAt, StorageClass: class}
	}
	policy, err := lifecycle.Parse(benchLifecyclePolicy)
	if err != nil {
		return err
	}
	t0 = time.Now()
	res := lifecycle.Evaluate(policy, imgs, time.Now())
	eval := time.Since(t0)
	// The preview must list the same images in the same order.
	var wantDigests []digest.Digest
	for _, d := range res.Decisions {
		wantDigests = append(wantDigests, d.Digest)
	}
	cands, imgs = nil, nil

	// The job's path, timed whole.
	pv, err := s.StartLifecyclePreview(ctx, repo, benchLifecyclePolicy)
	if err != nil {
		return err
	}
	runtime.GC()
	peak, stop := sampleHeap()
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
	}
	cpu0 := cpuTime()
	t0 = time.Now()
	err = runner.Preview(ctx, pv)
	took, cpu := time.Since(t0), cpuTime()-cpu0
	stop()
	if profile != "" {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return err
	}
	done, err := s.GetLifecyclePreview(ctx, repo)
	if err != nil {
		return err
	}
	if done.Status != metastore.PreviewComplete || done.ExpiringCount != res.Summary.ExpiringImageTotalCount {
		return fmt.Errorf("preview ended %s with %d expiring, the evaluator alone finds %d", done.Status, done.ExpiringCount,
			res.Summary.ExpiringImageTotalCount)
	}
	var got []metastore.LifecyclePreviewResult
	for after := int64(0); ; {
		page, err := s.LifecyclePreviewResults(ctx, repo, metastore.PreviewResultFilter{}, after, 1000)
		if err != nil {
			return err
		}
		got = append(got, page...)
		if len(page) < 1000 {
			break
		}
		after = page[len(page)-1].Position
	}
	if len(got) != len(wantDigests) {
		return fmt.Errorf("preview lists %d results, the evaluator alone decides on %d images", len(got), len(wantDigests))
	}
	for i := range got {
		if got[i].Digest != wantDigests[i] {
			return fmt.Errorf("preview result %d is %s, the evaluator's decision %d is on %s", i, got[i].Digest, i, wantDigests[i])
		}
	}
	verdict := "within"
	if took > 2*time.Second {
		verdict = "OVER"
	}
	fmt.Fprintf(stdout, "  preview job (read %d candidates, evaluate, write %d results): %v wall, %v CPU (%s the 2 s target)\n",
		n, done.ExpiringCount+done.TransitioningCount, took.Round(time.Millisecond), cpu.Round(time.Millisecond), verdict)
	fmt.Fprintf(stdout, "  phases measured apart: read candidates %v, evaluate %v; the rest is writing the results\n",
		load.Round(time.Millisecond), eval.Round(time.Millisecond))
	fmt.Fprintf(stdout, "  summary: %d expiring, %d transitioning; Go heap peak during the preview %.1f MiB\n",
		done.ExpiringCount, done.TransitioningCount, mib(int64(peak.Load())))
	return nil
}

// sampleHeap records the peak of the Go heap until stop is called.
func sampleHeap() (*atomic.Uint64, func()) {
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		var ms runtime.MemStats
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return &peak, func() { close(done); wg.Wait() }
}

// fillLifecycleRepo creates an account and a repository holding n images.
func fillLifecycleRepo(ctx context.Context, s *sqlstore.Store, n int, now time.Time) (int64, time.Duration, error) {
	start := time.Now()
	if err := s.CreateAccount(ctx, metastore.Account{ID: "000000000000"}); err != nil && !errors.Is(err, metastore.ErrAlreadyExists) {
		return 0, 0, err
	}
	r := metastore.Repository{AccountID: "000000000000", Name: "bench/lifecycle", ImageTagMutability: "MUTABLE", EncryptionType: "AES256"}
	if err := s.CreateRepository(ctx, &r); err != nil {
		return 0, 0, err
	}
	var next atomic.Int64
	var pulls []metastore.PullTime
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				body := []byte(fmt.Sprintf(`{"schemaVersion":2,"bench":%d}`, i))
				m := metastore.Manifest{RepositoryID: r.ID, Digest: digest.FromBytes(body), MediaType: "application/vnd.oci.image.manifest.v1+json",
					Size: int64(len(body)), Body: body, PushedAt: now.Add(-time.Duration(i%365*24)*time.Hour - time.Duration(i)*time.Second)}
				var tags []string
				switch i % 3 {
				case 1:
					tags = []string{fmt.Sprint("release-", i)}
				case 2:
					tags = []string{fmt.Sprint("dev-", i), fmt.Sprint("commit-", i)}
				}
				if err := s.PutManifest(ctx, m, nil, tags, metastore.PutOptions{}); err != nil {
					errs <- err
					return
				}
				if i%10 == 0 {
					mu.Lock()
					pulls = append(pulls, metastore.PullTime{RepositoryID: r.ID, Digest: m.Digest, At: now.Add(-time.Hour)})
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return 0, 0, err
	}
	for len(pulls) > 0 {
		k := min(len(pulls), 1000)
		if _, err := s.RecordPullTimes(ctx, pulls[:k], 0); err != nil {
			return 0, 0, err
		}
		pulls = pulls[k:]
	}
	return r.ID, time.Since(start), nil
}

// cpuTime is the process's user and system CPU time so far: on a shared
// machine it measures the work, where wall time also measures the others'.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
