package storetest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-registry/berth/internal/metastore"
)

var jobCases = []testCase{
	{"ClaimRenewFinish", testJobClaimRenewFinish},
	{"LapsedClaim", testJobLapsedClaim},
	{"ScheduleSooner", testJobScheduleSooner},
	{"ScheduleDuringRun", testJobScheduleDuringRun},
	{"ConcurrentClaims", testJobConcurrentClaims},
}

func mustClaim(t *testing.T, s metastore.Store, name, holder string, ttl time.Duration, want bool) {
	t.Helper()
	ok, err := s.ClaimJob(ctxOf(t), name, holder, ttl)
	noErr(t, "ClaimJob("+holder+")", err)
	if ok != want {
		t.Fatalf("ClaimJob(%s, %s) = %v, want %v", name, holder, ok, want)
	}
}

func jobByName(t *testing.T, s metastore.Store, name string) metastore.Job {
	t.Helper()
	jobs, err := s.ListJobs(ctxOf(t))
	noErr(t, "ListJobs", err)
	for _, j := range jobs {
		if j.Name == name {
			return j
		}
	}
	t.Fatalf("ListJobs has no %q: %+v", name, jobs)
	return metastore.Job{}
}

func testJobClaimRenewFinish(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	mustClaim(t, s, "gc", "node-a", time.Hour, true) // new jobs are due at once
	mustClaim(t, s, "gc", "node-b", time.Hour, false)
	mustClaim(t, s, "gc", "node-a", time.Hour, false) // a claim is not re-entrant
	ok, err := s.RenewJob(ctx, "gc", "node-a", time.Hour)
	if err != nil || !ok {
		t.Fatalf("RenewJob(holder) = %v, %v", ok, err)
	}
	if ok, err := s.RenewJob(ctx, "gc", "node-b", time.Hour); err != nil || ok {
		t.Fatalf("RenewJob(not holder) = %v, %v", ok, err)
	}
	j := jobByName(t, s, "gc")
	if j.Holder != "node-a" || j.ClaimedUntil.Before(time.Now()) || j.Runs != 0 {
		t.Errorf("while claimed: %+v", j)
	}

	start := time.Now().Add(-time.Second)
	next := time.Now().Add(time.Hour)
	noErr(t, "FinishJob", s.FinishJob(ctx, "gc", "node-a", start, "boom", next))
	j = jobByName(t, s, "gc")
	if j.Holder != "" || j.Runs != 1 || j.LastHolder != "node-a" || j.LastError != "boom" {
		t.Errorf("after finish: %+v", j)
	}
	wantTime(t, "NextRunAt", j.NextRunAt, next)
	wantTime(t, "LastStartedAt", j.LastStartedAt, start)
	wantRecent(t, "LastFinishedAt", j.LastFinishedAt)
	// Not due until next: nobody claims it, however often they try.
	mustClaim(t, s, "gc", "node-b", time.Hour, false)
	mustClaim(t, s, "gc", "node-a", time.Hour, false)
	// Another job is independent.
	mustClaim(t, s, "lifecycle", "node-b", time.Hour, true)
	wantErr(t, "FinishJob(not holder)", s.FinishJob(ctx, "lifecycle", "node-a", start, "", next), metastore.ErrConflict)
	if j := jobByName(t, s, "lifecycle"); j.Holder != "node-b" {
		t.Errorf("a refused FinishJob changed the claim: %+v", j)
	}
	wantErr(t, "FinishJob(unknown)", s.FinishJob(ctx, "nope", "node-a", start, "", next), metastore.ErrNotFound)
}

func testJobLapsedClaim(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	mustClaim(t, s, "expiry", "node-a", time.Millisecond, true)
	time.Sleep(20 * time.Millisecond)
	if ok, err := s.RenewJob(ctx, "expiry", "node-a", time.Hour); err != nil || ok {
		t.Fatalf("RenewJob(lapsed) = %v, %v", ok, err)
	}
	mustClaim(t, s, "expiry", "node-b", time.Hour, true) // node-a died or stalled
	err := s.FinishJob(ctx, "expiry", "node-a", time.Now(), "", time.Now().Add(time.Hour))
	wantErr(t, "FinishJob(lapsed holder)", err, metastore.ErrConflict)
	if j := jobByName(t, s, "expiry"); j.Holder != "node-b" {
		t.Errorf("lapsed holder's finish took node-b's claim: %+v", j)
	}
}

func testJobScheduleSooner(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	mustClaim(t, s, "lifecycle", "node-a", time.Hour, true)
	noErr(t, "FinishJob", s.FinishJob(ctx, "lifecycle", "node-a", time.Now(), "", time.Now().Add(time.Hour)))
	mustClaim(t, s, "lifecycle", "node-b", time.Hour, false)
	// Later than the next run: no change.
	noErr(t, "ScheduleJob(later)", s.ScheduleJob(ctx, "lifecycle", time.Now().Add(2*time.Hour)))
	mustClaim(t, s, "lifecycle", "node-b", time.Hour, false)
	// Now: due at once, on any node.
	noErr(t, "ScheduleJob(now)", s.ScheduleJob(ctx, "lifecycle", time.Now()))
	mustClaim(t, s, "lifecycle", "node-b", time.Hour, true)
	// Scheduling a job never seen creates it.
	noErr(t, "ScheduleJob(new)", s.ScheduleJob(ctx, "fresh", time.Now().Add(-time.Second)))
	mustClaim(t, s, "fresh", "node-a", time.Hour, true)
}

// A change during a run (a policy put while the lifecycle job runs) must
// get a run that starts after it, not be absorbed by the running one.
func testJobScheduleDuringRun(t *testing.T, s metastore.Store) {
	ctx := ctxOf(t)
	mustClaim(t, s, "lifecycle", "node-a", time.Hour, true)
	started := time.Now()
	noErr(t, "ScheduleJob(during run)", s.ScheduleJob(ctx, "lifecycle", time.Now()))
	mustClaim(t, s, "lifecycle", "node-b", time.Hour, false) // still claimed
	noErr(t, "FinishJob", s.FinishJob(ctx, "lifecycle", "node-a", started, "", time.Now().Add(time.Hour)))
	mustClaim(t, s, "lifecycle", "node-b", time.Hour, true)
	noErr(t, "FinishJob", s.FinishJob(ctx, "lifecycle", "node-b", time.Now(), "", time.Now().Add(time.Hour)))
	// That request was served: the job is not due again.
	mustClaim(t, s, "lifecycle", "node-a", time.Hour, false)
}

// Many nodes polling one due job: exactly one claims it per due time.
func testJobConcurrentClaims(t *testing.T, s metastore.Store) {
	const nodes, rounds = 8, 5
	var claims [rounds]atomic.Int32
	for round := range rounds {
		var wg sync.WaitGroup
		errs := make(chan error, nodes)
		for n := range nodes {
			wg.Go(func() {
				holder := fmt.Sprintf("node-%d", n)
				ok, err := s.ClaimJob(ctxOf(t), "gc", holder, time.Hour)
				if err != nil {
					errs <- err
					return
				}
				if ok {
					claims[round].Add(1)
					err := s.FinishJob(ctxOf(t), "gc", holder, time.Now(), "", time.Now().Add(time.Hour))
					if err != nil {
						errs <- err
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if got := claims[round].Load(); got != 1 {
			t.Fatalf("round %d: %d nodes claimed the due job, want 1", round, got)
		}
		if err := s.ScheduleJob(ctxOf(t), "gc", time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if j := jobByName(t, s, "gc"); j.Runs != rounds {
		t.Errorf("Runs = %d, want %d", j.Runs, rounds)
	}
}
