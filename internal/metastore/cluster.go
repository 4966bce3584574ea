package metastore

import (
	"context"
	"time"
)

// ClusterStore holds what the nodes of one deployment must agree on and
// decide once between them, whatever the number of nodes starting at once.
type ClusterStore interface {
	// InitClusterValue stores value under name unless a value is stored
	// already, and returns the stored value: value itself for the first
	// caller, the earlier value for every later one.
	InitClusterValue(ctx context.Context, name string, value []byte) ([]byte, error)
	// CreateFirstRootKey stores k, a root key (UserName ""), only when
	// k.AccountID has no root key yet, and reports whether it did; of
	// nodes racing to bootstrap one account, exactly one creates its key.
	// ErrNotFound when the account does not exist.
	CreateFirstRootKey(ctx context.Context, k AccessKey) (bool, error)
}

// JobRun is one completed run of a background job.
type JobRun struct {
	Name       string
	Holder     string
	StartedAt  time.Time
	FinishedAt time.Time
	// Error is "" for a successful run.
	Error string
}

// JobRunHistory is the record of completed job runs: FinishJob adds one
// run and keeps the newest MaxJobRuns of each job.
type JobRunHistory interface {
	// ListJobRuns returns up to limit (1..MaxJobRuns) of name's newest
	// runs, newest first.
	ListJobRuns(ctx context.Context, name string, limit int) ([]JobRun, error)
}

// MaxJobRuns is how many runs of each job the history keeps.
const MaxJobRuns = 100
