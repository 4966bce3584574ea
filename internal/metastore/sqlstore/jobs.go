package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/berth-registry/berth/internal/metastore"
)

// jobQueries are the statements of JobStore, rendered for the dialect.
type jobQueries struct {
	insert, claim, renew, holder, finish, schedule, list string
	// Run history (job_runs).
	insertRun, pruneRuns, listRuns string
}

const jobCols = "name, holder, claimed_until, next_run_at, last_started_at, last_finished_at, last_holder, last_error, runs"

func newJobQueries(d dialect) jobQueries {
	return jobQueries{
		insert: d.rebind(d.insertIgnore("jobs", []string{"name", "next_run_at"}, []string{"name"})),
		// A claim consumes any earlier ScheduleJob request: this run
		// serves it.
		claim: d.rebind("UPDATE jobs SET holder = ?, claimed_until = ?, wanted_at = 0" +
			" WHERE name = ? AND next_run_at <= ? AND (holder = '' OR claimed_until < ?)"),
		holder: d.rebind("SELECT holder, claimed_until FROM jobs WHERE name = ?"),
		renew:  d.rebind("UPDATE jobs SET claimed_until = ? WHERE name = ? AND holder = ? AND claimed_until >= ?"),
		// A ScheduleJob during the run (wanted_at) may pull the next run in.
		finish: d.rebind("UPDATE jobs SET holder = '', claimed_until = 0," +
			" next_run_at = CASE WHEN wanted_at > 0 AND wanted_at < ? THEN wanted_at ELSE ? END, wanted_at = 0," +
			" last_started_at = ?, last_finished_at = ?, last_holder = ?, last_error = ?, runs = runs + 1" +
			" WHERE name = ?"),
		schedule: d.rebind("UPDATE jobs SET" +
			" next_run_at = CASE WHEN next_run_at > ? THEN ? ELSE next_run_at END," +
			" wanted_at = CASE WHEN holder <> '' AND (wanted_at = 0 OR wanted_at > ?) THEN ? ELSE wanted_at END" +
			" WHERE name = ?"),
		list:      d.rebind("SELECT " + jobCols + " FROM jobs ORDER BY name"),
		insertRun: d.rebind("INSERT INTO job_runs (name, holder, started_at, finished_at, error) VALUES (?, ?, ?, ?, ?)"),
		// Keeps the newest MaxJobRuns rows of the job.
		pruneRuns: d.rebind("DELETE FROM job_runs WHERE name = ? AND id <= (SELECT id FROM job_runs WHERE name = ?" +
			" ORDER BY id DESC LIMIT 1 OFFSET " + strconv.Itoa(metastore.MaxJobRuns) + ")"),
		listRuns: d.rebind("SELECT name, holder, started_at, finished_at, error FROM job_runs WHERE name = ?" +
			" ORDER BY id DESC LIMIT ?"),
	}
}

// ClaimJob claims a due, unclaimed (or lapsed) job for holder.
func (s *Store) ClaimJob(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	var ok bool
	err := s.write(ctx, "claim job", func(ctx context.Context, tx *sql.Tx) error {
		now := s.now()
		if _, err := tx.ExecContext(ctx, s.jq.insert, name, nanos(now)); err != nil {
			return err
		}
		n, err := execTx(ctx, tx, s.jq.claim, holder, nanos(now.Add(ttl)), name, nanos(now), nanos(now))
		ok = n == 1
		return err
	})
	return ok, err
}

// RenewJob extends holder's live claim.
func (s *Store) RenewJob(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	now := s.now()
	n, err := s.exec(ctx, s.jq.renew, nanos(now.Add(ttl)), name, holder, nanos(now))
	return n == 1, s.fail("renew job", err)
}

// FinishJob records a run and releases the claim. The run is recorded (in
// the history, marked as having lost its claim) even when holder's claim
// lapsed meanwhile; then the claim, which may be another node's by now, is
// left alone and ErrConflict reported.
func (s *Store) FinishJob(ctx context.Context, name, holder string, started time.Time, runErr string, next time.Time) error {
	var lapsed bool
	err := s.write(ctx, "finish job", func(ctx context.Context, tx *sql.Tx) error {
		var cur string
		var until int64
		err := tx.QueryRowContext(ctx, s.jq.holder, name).Scan(&cur, &until)
		if err != nil {
			return err
		}
		now := s.now()
		lapsed = cur != holder || until < nanos(now)
		histErr := runErr
		if lapsed {
			histErr = strings.TrimPrefix(runErr+"; claim lapsed before the run ended", "; ")
		}
		if _, err := tx.ExecContext(ctx, s.jq.insertRun, name, holder, nanos(started), nanos(now), histErr); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.jq.pruneRuns, name, name); err != nil {
			return err
		}
		if lapsed {
			return nil
		}
		_, err = tx.ExecContext(ctx, s.jq.finish, nanos(next), nanos(next), nanos(started), nanos(now),
			holder, runErr, name)
		return err
	})
	if err == nil && lapsed {
		return fmt.Errorf("sqlstore: finish job %s: %w", name, metastore.ErrConflict)
	}
	return err
}

// ListJobRuns returns a job's newest runs, newest first.
func (s *Store) ListJobRuns(ctx context.Context, name string, limit int) ([]metastore.JobRun, error) {
	if limit < 1 || limit > metastore.MaxJobRuns {
		return nil, fmt.Errorf("sqlstore: list job runs: limit %d outside 1..%d", limit, metastore.MaxJobRuns)
	}
	out, err := queryAll(ctx, s.reader, scanJobRun, s.jq.listRuns, name, limit)
	return out, s.fail("list job runs", err)
}

func scanJobRun(r scanner) (metastore.JobRun, error) {
	var run metastore.JobRun
	var started, finished int64
	if err := r.Scan(&run.Name, &run.Holder, &started, &finished, &run.Error); err != nil {
		return metastore.JobRun{}, err
	}
	run.StartedAt, run.FinishedAt = fromNanos(started), fromNanos(finished)
	return run, nil
}

// ScheduleJob makes a job due at at if that is sooner; a job running now
// runs again from at once this run finishes.
func (s *Store) ScheduleJob(ctx context.Context, name string, at time.Time) error {
	return s.write(ctx, "schedule job", func(ctx context.Context, tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.jq.insert, name, nanos(at)); err != nil {
			return err
		}
		a := nanos(at)
		_, err := tx.ExecContext(ctx, s.jq.schedule, a, a, a, a, name)
		return err
	})
}

// ListJobs returns every job, by name.
func (s *Store) ListJobs(ctx context.Context) ([]metastore.Job, error) {
	out, err := queryAll(ctx, s.reader, scanJob, s.jq.list)
	return out, s.fail("list jobs", err)
}

func scanJob(r scanner) (metastore.Job, error) {
	var j metastore.Job
	var until, next, started, finished int64
	err := r.Scan(&j.Name, &j.Holder, &until, &next, &started, &finished, &j.LastHolder, &j.LastError, &j.Runs)
	if err != nil {
		return metastore.Job{}, err
	}
	j.NextRunAt = fromNanos(next)
	if until > 0 {
		j.ClaimedUntil = fromNanos(until)
	}
	if started > 0 {
		j.LastStartedAt = fromNanos(started)
	}
	if finished > 0 {
		j.LastFinishedAt = fromNanos(finished)
	}
	return j, nil
}
