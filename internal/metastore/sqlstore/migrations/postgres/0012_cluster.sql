-- 0012_cluster: what the nodes of one deployment share beyond the registry's
-- data (PostgreSQL dialect; same schema and queries as the SQLite file):
-- values every node must agree on, written once by the first node, and the
-- history of background job runs, which shows where and when each ran.
-- Times are BIGINT Unix nanoseconds UTC.

CREATE TABLE cluster_values (
    name       TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    value      BYTEA            NOT NULL,
    created_at BIGINT           NOT NULL
);
COMMENT ON TABLE cluster_values IS 'Deployment-wide values written once, by the first node that needs them, and never changed (e.g. the check that every node uses the same secrets key)';
COMMENT ON COLUMN cluster_values.name IS 'what the value is, e.g. secrets-key-check';
COMMENT ON COLUMN cluster_values.value IS 'the value as the first node wrote it (the secrets-key check is a constant sealed with the key)';
COMMENT ON COLUMN cluster_values.created_at IS 'when the first node wrote it, Unix ns UTC';

CREATE TABLE job_runs (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        TEXT COLLATE "C" NOT NULL,
    holder      TEXT COLLATE "C" NOT NULL,
    started_at  BIGINT           NOT NULL,
    finished_at BIGINT           NOT NULL,
    error       TEXT             NOT NULL DEFAULT ''
);
COMMENT ON TABLE job_runs IS 'Completed runs of background jobs (the jobs table), the newest 100 per job; the finishing node prunes older ones';
COMMENT ON COLUMN job_runs.id IS 'order of recording';
COMMENT ON COLUMN job_runs.name IS 'the job, jobs.name';
COMMENT ON COLUMN job_runs.holder IS 'the node that ran it (its claim holder name)';
COMMENT ON COLUMN job_runs.started_at IS 'start of the run, Unix ns UTC';
COMMENT ON COLUMN job_runs.finished_at IS 'end of the run, Unix ns UTC';
COMMENT ON COLUMN job_runs.error IS 'the run''s error; empty on success';
-- Serves the listing of one job's runs, newest first, and the pruning.
CREATE INDEX job_runs_by_name ON job_runs (name, id);
