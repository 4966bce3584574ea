-- 0006_jobs: the shared schedule and claims of background jobs (PostgreSQL
-- dialect). Every node polls this table; a job runs on the one node holding
-- a live claim, and its next run time is shared, so a job scheduled every
-- hour runs once an hour in the whole deployment. Times are Unix
-- nanoseconds UTC of the claiming node's clock.

CREATE TABLE jobs (
    name             TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    holder           TEXT COLLATE "C" NOT NULL DEFAULT '',
    claimed_until    BIGINT           NOT NULL DEFAULT 0,
    next_run_at      BIGINT           NOT NULL DEFAULT 0,
    wanted_at        BIGINT           NOT NULL DEFAULT 0,
    last_started_at  BIGINT           NOT NULL DEFAULT 0,
    last_finished_at BIGINT           NOT NULL DEFAULT 0,
    last_holder      TEXT COLLATE "C" NOT NULL DEFAULT '',
    last_error       TEXT             NOT NULL DEFAULT '',
    runs             BIGINT           NOT NULL DEFAULT 0
);
COMMENT ON TABLE jobs IS 'One row per background job (garbage collection, lifecycle runs, upload expiry, event delivery, ...), created by its first claim.';
COMMENT ON COLUMN jobs.name IS 'job name, e.g. gc';
COMMENT ON COLUMN jobs.holder IS 'node holding the claim; empty when none';
COMMENT ON COLUMN jobs.claimed_until IS 'the claim lapses at this time unless renewed, Unix ns UTC';
COMMENT ON COLUMN jobs.next_run_at IS 'the job is due from this time, Unix ns UTC';
COMMENT ON COLUMN jobs.wanted_at IS 'a run asked for (ScheduleJob) during the current run; 0 when none';
COMMENT ON COLUMN jobs.last_started_at IS 'start of the last completed run; 0 before any';
COMMENT ON COLUMN jobs.last_finished_at IS 'end of the last completed run; 0 before any';
COMMENT ON COLUMN jobs.last_holder IS 'node that ran the last completed run';
COMMENT ON COLUMN jobs.last_error IS 'error of the last completed run; empty on success';
COMMENT ON COLUMN jobs.runs IS 'completed runs, successful or not';
