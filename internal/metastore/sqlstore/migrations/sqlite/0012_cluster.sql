-- 0012_cluster: what the nodes of one deployment share beyond the registry's
-- data (SQLite dialect): values every node must agree on, written once by
-- the first node, and the history of background job runs, which shows where
-- and when each ran. Times are Unix nanoseconds UTC.

-- cluster_values: deployment-wide values written once, by the first node
-- that needs them, and never changed (e.g. the check that every node uses
-- the same secrets key).
CREATE TABLE cluster_values (
    name       TEXT    NOT NULL PRIMARY KEY, -- what the value is, e.g. "secrets-key-check"
    value      BLOB    NOT NULL,             -- the value as the first node wrote it
    created_at INTEGER NOT NULL              -- when the first node wrote it
) STRICT;

-- job_runs: completed runs of background jobs (the jobs table), the newest
-- 100 per job; the finishing node prunes older ones.
CREATE TABLE job_runs (
    id          INTEGER NOT NULL PRIMARY KEY,  -- order of recording
    name        TEXT    NOT NULL,              -- the job, jobs.name
    holder      TEXT    NOT NULL,              -- the node that ran it (its claim holder name)
    started_at  INTEGER NOT NULL,              -- start of the run
    finished_at INTEGER NOT NULL,              -- end of the run
    error       TEXT    NOT NULL DEFAULT ''    -- the run's error; '' on success
) STRICT;
-- Serves the listing of one job's runs, newest first, and the pruning.
CREATE INDEX job_runs_by_name ON job_runs (name, id);
