// Package worker runs Berth's background jobs (garbage collection,
// lifecycle runs, upload expiry, event delivery) so that each runs on
// exactly one node at a time and on one shared schedule, whatever the
// number of nodes: every node polls the job table in the metadata store
// (metastore.JobStore), runs a job only while it holds the job's claim,
// renews the claim while the job runs, and records the run and the next
// due time when it ends. A node that dies mid-run loses its claim after
// the claim TTL and another node takes the job over.
package worker

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// Jobs is the shared job schedule; metastore.JobStore implements it.
type Jobs interface {
	ClaimJob(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	RenewJob(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	FinishJob(ctx context.Context, name, holder string, started time.Time, runErr string, next time.Time) error
	ScheduleJob(ctx context.Context, name string, at time.Time) error
}

// Job is one kind of background work.
type Job struct {
	// Name identifies the job in the store, logs and metrics.
	Name string
	// Every is the time from the start of one run to the next.
	Every time.Duration
	// Run does the work. Its context ends when the node stops or loses the
	// claim; Run must then return promptly.
	Run func(ctx context.Context) error
	// ClaimTTL overrides Options.ClaimTTL for this job: a long-running job
	// (event delivery) wants a short one, so that another node takes over
	// soon after its node died.
	ClaimTTL time.Duration
}

// claimTTL is how long j's claims last.
func (r *Runner) claimTTL(j Job) time.Duration {
	if j.ClaimTTL > 0 {
		return j.ClaimTTL
	}
	return r.o.ClaimTTL
}

// Options configures a Runner. Jobs is required.
type Options struct {
	Jobs Jobs
	// Holder names this node in claims; empty means hostname-pid-random.
	Holder string
	Logger *slog.Logger
	Clock  func() time.Time
	// Metrics records runs; nil records nothing.
	Metrics *Metrics
	// Poll is how often the node looks for due jobs (default 5s, or the
	// shortest job interval if that is shorter).
	Poll time.Duration
	// ClaimTTL is how long a claim lasts unless renewed (default 1m); a
	// running job renews it every ClaimTTL/3. A dead node's job is taken
	// over within about ClaimTTL.
	ClaimTTL time.Duration
}

// Runner runs jobs on this node when it holds their claims.
type Runner struct {
	o    Options
	jobs map[string]Job
	wake chan struct{}

	mu      sync.Mutex
	running map[string]bool
}

// New builds a Runner for jobs; names must be unique and Every positive.
func New(o Options, jobs ...Job) (*Runner, error) {
	if o.Jobs == nil {
		return nil, errors.New("worker: Jobs is required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Poll <= 0 {
		o.Poll = 5 * time.Second
		for _, j := range jobs {
			if j.Every > 0 {
				o.Poll = min(o.Poll, j.Every)
			}
		}
	}
	if o.ClaimTTL <= 0 {
		o.ClaimTTL = time.Minute
	}
	if o.Holder == "" {
		o.Holder = DefaultHolder()
	}
	r := &Runner{o: o, jobs: map[string]Job{}, wake: make(chan struct{}, 1), running: map[string]bool{}}
	for _, j := range jobs {
		if j.Name == "" || j.Run == nil || j.Every <= 0 {
			return nil, fmt.Errorf("worker: job %q needs a name, a Run function and a positive interval", j.Name)
		}
		if _, dup := r.jobs[j.Name]; dup {
			return nil, fmt.Errorf("worker: job %q added twice", j.Name)
		}
		r.jobs[j.Name] = j
	}
	return r, nil
}

// DefaultHolder names this process uniquely: HolderFor the host name.
func DefaultHolder() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "node"
	}
	return HolderFor(host)
}

// HolderFor names this process of node uniquely in claims: the node name,
// a slash and a random suffix, so that a restarted node never mistakes an
// old claim for its own, nor do two processes given the same name.
func HolderFor(node string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return node + "/" + hex.EncodeToString(b[:])
}

// Holder is the name this node claims jobs under.
func (r *Runner) Holder() string { return r.o.Holder }

// Trigger makes job name due now on every node (the store records it) and
// wakes this node's poller, so a change that wants the job soon (a new
// lifecycle policy) gets a run started after it.
func (r *Runner) Trigger(ctx context.Context, name string) error {
	if _, ok := r.jobs[name]; !ok {
		return fmt.Errorf("worker: unknown job %q", name)
	}
	if err := r.o.Jobs.ScheduleJob(ctx, name, r.o.Clock()); err != nil {
		return err
	}
	select {
	case r.wake <- struct{}{}:
	default:
	}
	return nil
}

// Run polls for due jobs until ctx ends, then waits for the jobs running
// here to return.
func (r *Runner) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	t := time.NewTicker(r.o.Poll)
	defer t.Stop()
	for {
		for _, j := range r.jobs {
			if r.claim(ctx, j) {
				wg.Go(func() { r.run(ctx, j) })
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-r.wake:
		}
	}
}

// claim reports whether this node now holds j's claim (and marks it
// running here).
func (r *Runner) claim(ctx context.Context, j Job) bool {
	r.mu.Lock()
	busy := r.running[j.Name]
	r.mu.Unlock()
	if busy || ctx.Err() != nil {
		return false
	}
	ok, err := r.o.Jobs.ClaimJob(ctx, j.Name, r.o.Holder, r.claimTTL(j))
	if err != nil {
		if ctx.Err() == nil {
			r.o.Logger.Warn("job claim failed", "job", j.Name, "err", err)
		}
		return false
	}
	if ok {
		r.mu.Lock()
		r.running[j.Name] = true
		r.mu.Unlock()
	}
	return ok
}

// run runs j while renewing its claim, then records the run.
func (r *Runner) run(parent context.Context, j Job) {
	defer func() {
		r.mu.Lock()
		delete(r.running, j.Name)
		r.mu.Unlock()
	}()
	ctx, cancel := context.WithCancelCause(parent)
	defer cancel(nil)
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		r.renew(ctx, j.Name, r.claimTTL(j), cancel)
	}()
	started := r.o.Clock()
	r.o.Logger.Debug("job started", "job", j.Name, "holder", r.o.Holder)
	err := runSafely(ctx, j)
	cancel(nil)
	<-renewed
	took := r.o.Clock().Sub(started)
	next := started.Add(j.Every)
	if parent.Err() != nil {
		// This node is stopping: let another node pick the job up at once.
		err, next = errors.Join(err, errors.New("interrupted: the node stopped")), r.o.Clock()
	}
	if lost := context.Cause(ctx); errors.Is(lost, errClaimLost) {
		err = errors.Join(err, lost)
	}
	r.o.Metrics.observe(j.Name, err, took, r.o.Clock())
	msg := ""
	if err != nil {
		msg = err.Error()
		r.o.Logger.Warn("job failed", "job", j.Name, "took", took, "err", err)
	} else {
		r.o.Logger.Info("job finished", "job", j.Name, "took", took)
	}
	fctx, fcancel := context.WithTimeout(context.WithoutCancel(parent), 10*time.Second)
	defer fcancel()
	if ferr := r.o.Jobs.FinishJob(fctx, j.Name, r.o.Holder, started, msg, next); ferr != nil {
		r.o.Logger.Warn("job finish not recorded", "job", j.Name, "err", ferr)
	}
}

var errClaimLost = errors.New("the job's claim lapsed (another node may run it)")

// renew keeps the claim alive until ctx ends; when the claim is lost it
// cancels the run.
func (r *Runner) renew(ctx context.Context, name string, ttl time.Duration, cancel context.CancelCauseFunc) {
	t := time.NewTicker(ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		ok, err := r.o.Jobs.RenewJob(ctx, name, r.o.Holder, ttl)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			// Keep running: the claim may still be valid; the next renewal
			// or the claim's expiry decides.
			r.o.Logger.Warn("job claim renewal failed", "job", name, "err", err)
		case !ok:
			r.o.Logger.Warn("job claim lost; stopping the run", "job", name)
			cancel(errClaimLost)
			return
		}
	}
}

// runSafely turns a panicking job into an error, so one bad run neither
// kills the node nor keeps the claim.
func runSafely(ctx context.Context, j Job) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("job %s panicked: %v", j.Name, p)
		}
	}()
	return j.Run(ctx)
}
