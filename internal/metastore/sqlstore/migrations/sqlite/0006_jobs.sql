-- 0006_jobs: the shared schedule and claims of background jobs (SQLite
-- dialect). Every node polls this table; a job runs on the one node holding
-- a live claim, and its next run time is shared, so a job scheduled every
-- hour runs once an hour in the whole deployment. Times are Unix
-- nanoseconds UTC of the claiming node's clock.

-- jobs: one row per background job (garbage collection, lifecycle runs,
-- upload expiry, event delivery, ...), created by its first claim.
CREATE TABLE jobs (
    name             TEXT    NOT NULL PRIMARY KEY, -- job name, e.g. "gc"
    holder           TEXT    NOT NULL DEFAULT '',  -- node holding the claim; '' when none
    claimed_until    INTEGER NOT NULL DEFAULT 0,   -- the claim lapses at this time unless renewed
    next_run_at      INTEGER NOT NULL DEFAULT 0,   -- the job is due from this time
    wanted_at        INTEGER NOT NULL DEFAULT 0,   -- a run asked for (ScheduleJob) during the current run; 0 when none
    last_started_at  INTEGER NOT NULL DEFAULT 0,   -- start of the last completed run; 0 before any
    last_finished_at INTEGER NOT NULL DEFAULT 0,   -- end of the last completed run; 0 before any
    last_holder      TEXT    NOT NULL DEFAULT '',  -- node that ran the last completed run
    last_error       TEXT    NOT NULL DEFAULT '',  -- error of the last completed run; '' on success
    runs             INTEGER NOT NULL DEFAULT 0    -- completed runs, successful or not
) STRICT;
