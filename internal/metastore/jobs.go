package metastore

import (
	"context"
	"time"
)

// Job is the shared schedule and claim of one background job (garbage
// collection, lifecycle runs, upload expiry, event delivery). Nodes never
// schedule jobs alone: a job runs where a node holds its claim, and the
// next run time lives here, so a job scheduled every hour runs once an
// hour in the whole deployment, not once per node.
type Job struct {
	Name string
	// Holder is the node holding a live claim; "" when none.
	Holder string
	// ClaimedUntil is when the current claim lapses unless renewed.
	ClaimedUntil time.Time
	// NextRunAt is when the job is next due.
	NextRunAt time.Time
	// LastStartedAt and LastFinishedAt bound the last completed run; zero
	// before the first.
	LastStartedAt  time.Time
	LastFinishedAt time.Time
	// LastHolder ran the last completed run; LastError is its error ("" on
	// success).
	LastHolder string
	LastError  string
	// Runs counts completed runs (success or failure).
	Runs int64
}

// JobStore coordinates background jobs between nodes. Times are the
// store's clock: nodes' clocks must agree to well within a claim's TTL.
type JobStore interface {
	// ClaimJob makes holder the runner of name until now+ttl, and reports
	// true, when the job is due (NextRunAt reached) and no live claim
	// exists. A job never seen before is created and due at once.
	ClaimJob(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	// RenewJob extends holder's live claim to now+ttl; false when holder
	// no longer holds a live claim (it lapsed and may be someone else's).
	RenewJob(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	// FinishJob ends holder's claim, records the run (runErr "" for
	// success) and schedules the next run at next, or sooner if
	// ScheduleJob asked for it during the run. ErrConflict when holder no
	// longer held the claim; the run is recorded anyway.
	FinishJob(ctx context.Context, name, holder string, started time.Time, runErr string, next time.Time) error
	// ScheduleJob makes name due at at if that is sooner than its next run
	// (a change that wants the job soon, such as a new lifecycle policy).
	ScheduleJob(ctx context.Context, name string, at time.Time) error
	// ListJobs returns every job known, by name.
	ListJobs(ctx context.Context) ([]Job, error)
}
