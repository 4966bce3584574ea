-- 0011_lifecycle: ECR lifecycle policies, their background runs and their
-- previews (PostgreSQL dialect; same schema and queries as the SQLite
-- file). Times are BIGINT Unix nanoseconds UTC, 0 for never; everything of
-- a repository goes with it through ON DELETE CASCADE.

CREATE TABLE lifecycle_policies (
    repository_id     BIGINT NOT NULL PRIMARY KEY REFERENCES repositories (id) ON DELETE CASCADE,
    policy_text       TEXT   NOT NULL,
    policy_id         TEXT COLLATE "C" NOT NULL,
    policy_version    BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    last_evaluated_at BIGINT NOT NULL DEFAULT 0
);
COMMENT ON TABLE lifecycle_policies IS 'the one lifecycle policy of a repository (PutLifecyclePolicy), stored verbatim as the caller validated it';
COMMENT ON COLUMN lifecycle_policies.repository_id IS 'the repository';
COMMENT ON COLUMN lifecycle_policies.policy_text IS 'lifecycle policy JSON exactly as put';
COMMENT ON COLUMN lifecycle_policies.policy_id IS 'UUID of this put; a run acts only under the policy it evaluated';
COMMENT ON COLUMN lifecycle_policies.policy_version IS 'puts of this repository''s policy, 1 for the first';
COMMENT ON COLUMN lifecycle_policies.updated_at IS 'last PutLifecyclePolicy, Unix ns UTC';
COMMENT ON COLUMN lifecycle_policies.last_evaluated_at IS 'last background run under this policy (GetLifecyclePolicy''s lastEvaluatedAt), Unix ns UTC; 0 = never';

CREATE TABLE lifecycle_previews (
    repository_id       BIGINT NOT NULL PRIMARY KEY REFERENCES repositories (id) ON DELETE CASCADE,
    generation          BIGINT NOT NULL,
    status              TEXT COLLATE "C" NOT NULL CHECK (status IN ('IN_PROGRESS', 'COMPLETE', 'EXPIRED', 'FAILED')),
    policy_text         TEXT   NOT NULL,
    expiring_count      BIGINT NOT NULL DEFAULT 0,
    transitioning_count BIGINT NOT NULL DEFAULT 0,
    failure             TEXT   NOT NULL DEFAULT '',
    created_at          BIGINT NOT NULL,
    finished_at         BIGINT NOT NULL DEFAULT 0
);
COMMENT ON TABLE lifecycle_previews IS 'the latest preview of a repository (StartLifecyclePolicyPreview); the lifecycle-preview job computes those IN_PROGRESS and writes their results to lifecycle_preview_results';
COMMENT ON COLUMN lifecycle_previews.repository_id IS 'the repository';
COMMENT ON COLUMN lifecycle_previews.generation IS 'starts in this repository; identifies this preview to the job that finishes it';
COMMENT ON COLUMN lifecycle_previews.status IS 'IN_PROGRESS, COMPLETE, EXPIRED or FAILED (LifecyclePolicyPreviewStatus)';
COMMENT ON COLUMN lifecycle_previews.policy_text IS 'the policy previewed, exactly as given or stored';
COMMENT ON COLUMN lifecycle_previews.expiring_count IS 'summary.expiringImageTotalCount';
COMMENT ON COLUMN lifecycle_previews.transitioning_count IS 'summary''s ARCHIVE transitioningImageTotalCount';
COMMENT ON COLUMN lifecycle_previews.failure IS 'why a FAILED preview failed; empty otherwise';
COMMENT ON COLUMN lifecycle_previews.created_at IS 'when it was started, Unix ns UTC';
COMMENT ON COLUMN lifecycle_previews.finished_at IS 'when it became COMPLETE or FAILED, Unix ns UTC; 0 = not yet';

-- Serves the lifecycle-preview job's scan for work.
CREATE INDEX lifecycle_previews_pending ON lifecycle_previews (created_at) WHERE status = 'IN_PROGRESS';

CREATE TABLE lifecycle_preview_results (
    repository_id BIGINT NOT NULL REFERENCES lifecycle_previews (repository_id) ON DELETE CASCADE,
    chunk         BIGINT NOT NULL,
    results       TEXT   NOT NULL,
    PRIMARY KEY (repository_id, chunk)
);
COMMENT ON TABLE lifecycle_preview_results IS 'the images the latest preview of a repository would act on (GetLifecyclePolicyPreview''s previewResults), in the evaluator''s decision order, stored in chunks of 1,000 so that a preview of 100,000 images is a hundred row writes (pages decode the chunks they cover; filters apply while decoding)';
COMMENT ON COLUMN lifecycle_preview_results.repository_id IS 'the repository (its preview)';
COMMENT ON COLUMN lifecycle_preview_results.chunk IS 'holds the results at positions chunk*1000+1 to (chunk+1)*1000 (1-based)';
COMMENT ON COLUMN lifecycle_preview_results.results IS 'JSON array of the chunk''s results in position order: {"d":digest,"t":[tags],"p":pushed Unix ns,"a":action,"s":target storage class,"r":rule priority,"c":storage class}';
