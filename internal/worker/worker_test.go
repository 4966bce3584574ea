package worker_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/metastore"
	"github.com/berth-registry/berth/internal/metastore/sqlstore"
	"github.com/berth-registry/berth/internal/worker"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func openStore(t *testing.T) *sqlstore.Store {
	t.Helper()
	s, err := sqlstore.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "meta.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func start(t *testing.T, r *worker.Runner) context.CancelFunc {
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); r.Run(ctx) }()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	return stop
}

func newRunner(t *testing.T, s worker.Jobs, holder string, m *worker.Metrics, jobs ...worker.Job) *worker.Runner {
	t.Helper()
	r, err := worker.New(worker.Options{Jobs: s, Holder: holder, Poll: 10 * time.Millisecond,
		ClaimTTL: 300 * time.Millisecond, Metrics: m}, jobs...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func job(t *testing.T, s *sqlstore.Store, name string) metastore.Job {
	t.Helper()
	jobs, err := s.ListJobs(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		if j.Name == name {
			return j
		}
	}
	return metastore.Job{}
}

// Three nodes share one schedule: the job runs about once per interval in
// all, never on two nodes at once.
func TestOneScheduleForAllNodes(t *testing.T) {
	s := openStore(t)
	var active, maxActive, runs atomic.Int32
	var mu sync.Mutex
	holders := map[string]int{}
	mk := func(holder string) worker.Job {
		return worker.Job{Name: "gc", Every: 200 * time.Millisecond, Run: func(ctx context.Context) error {
			n := active.Add(1)
			defer active.Add(-1)
			for {
				m := maxActive.Load()
				if n <= m || maxActive.CompareAndSwap(m, n) {
					break
				}
			}
			runs.Add(1)
			mu.Lock()
			holders[holder]++
			mu.Unlock()
			time.Sleep(30 * time.Millisecond)
			return nil
		}}
	}
	var stops []context.CancelFunc
	for _, h := range []string{"a", "b", "c"} {
		stops = append(stops, start(t, newRunner(t, s, h, nil, mk(h))))
	}
	time.Sleep(1500 * time.Millisecond)
	for _, stop := range stops {
		stop()
	}
	if m := maxActive.Load(); m != 1 {
		t.Errorf("at most %d runs at once, want 1", m)
	}
	// 1.5 s at one run per 200 ms: about 8 (7.5 plus the first at once),
	// where three unshared schedules would give about 24.
	if n := runs.Load(); n < 5 || n > 9 {
		t.Errorf("%d runs in 1.5 s at one per 200 ms (holders %v)", n, holders)
	}
	if j := job(t, s, "gc"); j.Runs < int64(runs.Load()) {
		t.Errorf("store recorded %d runs, jobs ran %d times", j.Runs, runs.Load())
	}
}

// Trigger makes a job with a long interval run again promptly, also when
// asked on another node than the one that ran it.
func TestTrigger(t *testing.T) {
	s := openStore(t)
	var runs atomic.Int32
	j := worker.Job{Name: "lifecycle", Every: time.Hour, Run: func(context.Context) error { runs.Add(1); return nil }}
	a := newRunner(t, s, "a", nil, j)
	b := newRunner(t, s, "b", nil, j)
	start(t, a)
	waitFor(t, "first run", func() bool { return runs.Load() == 1 && job(t, s, "lifecycle").Runs == 1 })
	time.Sleep(100 * time.Millisecond)
	if n := runs.Load(); n != 1 {
		t.Fatalf("%d runs before the trigger, want 1", n)
	}
	if err := b.Trigger(t.Context(), "lifecycle"); err != nil { // b is not even running
		t.Fatal(err)
	}
	waitFor(t, "triggered run", func() bool { return runs.Load() == 2 })
	if err := b.Trigger(t.Context(), "nope"); err == nil {
		t.Error("Trigger(unknown job) succeeded")
	}
}

// A node that dies holding a claim delays the job by at most the claim
// TTL; another node then runs it.
func TestDeadHolderIsTakenOver(t *testing.T) {
	s := openStore(t)
	if ok, err := s.ClaimJob(t.Context(), "expiry", "dead-node", 200*time.Millisecond); err != nil || !ok {
		t.Fatalf("claim as dead node: %v %v", ok, err)
	}
	ran := make(chan time.Time, 1)
	begin := time.Now()
	start(t, newRunner(t, s, "b", nil, worker.Job{Name: "expiry", Every: time.Hour,
		Run: func(context.Context) error {
			select {
			case ran <- time.Now():
			default:
			}
			return nil
		}}))
	select {
	case at := <-ran:
		if d := at.Sub(begin); d < 150*time.Millisecond {
			t.Errorf("ran %v after a live claim by another node was taken", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the job never ran after its holder died")
	}
}

// A run that panics or fails is recorded as failed, and the node goes on.
func TestFailuresAreRecorded(t *testing.T) {
	s := openStore(t)
	reg := prometheus.NewRegistry()
	m, err := worker.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int32
	start(t, newRunner(t, s, "a", m, worker.Job{Name: "flaky", Every: 20 * time.Millisecond,
		Run: func(context.Context) error {
			switch n.Add(1) {
			case 1:
				panic("boom")
			case 2:
				return errors.New("disk full")
			}
			return nil
		}}))
	waitFor(t, "three runs", func() bool { return job(t, s, "flaky").Runs >= 3 })
	if got := testutil.ToFloat64(m.Runs("flaky", "error")); got < 2 {
		t.Errorf("error runs = %v, want ≥ 2", got)
	}
	if got := testutil.ToFloat64(m.Runs("flaky", "success")); got < 1 {
		t.Errorf("successful runs = %v, want ≥ 1", got)
	}
}

// Stopping a node interrupts its run and leaves the job due at once for
// the other nodes.
func TestStopHandsOver(t *testing.T) {
	s := openStore(t)
	started := make(chan struct{})
	stop := start(t, newRunner(t, s, "a", nil, worker.Job{Name: "gc", Every: time.Hour,
		Run: func(ctx context.Context) error {
			close(started)
			<-ctx.Done()
			return ctx.Err()
		}}))
	<-started
	stop()
	j := job(t, s, "gc")
	if j.Holder != "" || j.Runs != 1 || j.LastError == "" || j.NextRunAt.After(time.Now()) {
		t.Fatalf("after an interrupted run: %+v", j)
	}
	if ok, err := s.ClaimJob(t.Context(), "gc", "b", time.Minute); err != nil || !ok {
		t.Errorf("another node cannot take the interrupted job: %v %v", ok, err)
	}
}

func TestNewRejectsBadJobs(t *testing.T) {
	s := openStore(t)
	run := func(context.Context) error { return nil }
	for _, jobs := range [][]worker.Job{
		{{Name: "", Every: time.Second, Run: run}},
		{{Name: "x", Every: 0, Run: run}},
		{{Name: "x", Every: time.Second}},
		{{Name: "x", Every: time.Second, Run: run}, {Name: "x", Every: time.Second, Run: run}},
	} {
		if _, err := worker.New(worker.Options{Jobs: s}, jobs...); err == nil {
			t.Errorf("New(%+v) succeeded", jobs)
		}
	}
	if _, err := worker.New(worker.Options{}); err == nil {
		t.Error("New without a job store succeeded")
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A job's own ClaimTTL governs its claims and their renewal: a
// long-running job keeps a short claim alive for as long as it runs.
func TestJobClaimTTL(t *testing.T) {
	s := openStore(t)
	running := make(chan struct{})
	j := worker.Job{Name: "deliver", Every: time.Hour, ClaimTTL: 300 * time.Millisecond,
		Run: func(ctx context.Context) error { close(running); <-ctx.Done(); return nil }}
	r, err := worker.New(worker.Options{Jobs: s, Holder: "a", Poll: 10 * time.Millisecond, ClaimTTL: time.Hour}, j)
	if err != nil {
		t.Fatal(err)
	}
	start(t, r)
	<-running
	for range 4 { // well past the TTL: renewed every TTL/3
		time.Sleep(250 * time.Millisecond)
		got := job(t, s, "deliver")
		if left := time.Until(got.ClaimedUntil); got.Holder != "a" || left <= 0 || left > 300*time.Millisecond {
			t.Fatalf("claim %+v: %s left, want a live claim of at most 300ms", got, left)
		}
	}
}
