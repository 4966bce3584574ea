-- 0011_lifecycle: ECR lifecycle policies, their background runs and their
-- previews (SQLite dialect). Conventions as in 0001_init: Unix-nanosecond
-- *_at columns (0 = never), STRICT tables; everything of a repository goes
-- with it through ON DELETE CASCADE.

-- lifecycle_policies: the one lifecycle policy of a repository
-- (PutLifecyclePolicy), stored verbatim as the caller validated it.
CREATE TABLE lifecycle_policies (
    repository_id     INTEGER NOT NULL PRIMARY KEY REFERENCES repositories (id) ON DELETE CASCADE,
    policy_text       TEXT    NOT NULL, -- lifecycle policy JSON exactly as put
    policy_id         TEXT    NOT NULL, -- UUID of this put; a run acts only under the policy it evaluated
    policy_version    INTEGER NOT NULL, -- puts of this repository's policy, 1 for the first
    updated_at        INTEGER NOT NULL, -- last PutLifecyclePolicy
    last_evaluated_at INTEGER NOT NULL DEFAULT 0 -- last background run under this policy (GetLifecyclePolicy's lastEvaluatedAt); 0 = never
) STRICT;

-- lifecycle_previews: the latest preview of a repository
-- (StartLifecyclePolicyPreview); the lifecycle-preview job computes those
-- IN_PROGRESS and writes their results to lifecycle_preview_results.
CREATE TABLE lifecycle_previews (
    repository_id      INTEGER NOT NULL PRIMARY KEY REFERENCES repositories (id) ON DELETE CASCADE,
    generation         INTEGER NOT NULL, -- starts in this repository; identifies this preview to the job that finishes it
    status             TEXT    NOT NULL CHECK (status IN ('IN_PROGRESS', 'COMPLETE', 'EXPIRED', 'FAILED')),
    policy_text        TEXT    NOT NULL, -- the policy previewed, exactly as given or stored
    expiring_count     INTEGER NOT NULL DEFAULT 0, -- summary.expiringImageTotalCount
    transitioning_count INTEGER NOT NULL DEFAULT 0, -- summary's ARCHIVE transitioningImageTotalCount
    failure            TEXT    NOT NULL DEFAULT '', -- why a FAILED preview failed; '' otherwise
    created_at         INTEGER NOT NULL, -- when it was started
    finished_at        INTEGER NOT NULL DEFAULT 0 -- when it became COMPLETE or FAILED; 0 = not yet
) STRICT;

-- Serves the lifecycle-preview job's scan for work.
CREATE INDEX lifecycle_previews_pending ON lifecycle_previews (created_at) WHERE status = 'IN_PROGRESS';

-- lifecycle_preview_results: the images the latest preview of a repository
-- would act on (GetLifecyclePolicyPreview's previewResults), in the
-- evaluator's decision order, stored in chunks of 1,000 so that a preview
-- of 100,000 images is a hundred row writes, not 100,000 (pages decode the
-- chunks they cover; filters apply while decoding).
CREATE TABLE lifecycle_preview_results (
    repository_id INTEGER NOT NULL REFERENCES lifecycle_previews (repository_id) ON DELETE CASCADE,
    chunk         INTEGER NOT NULL, -- holds the results at positions chunk*1000+1 to (chunk+1)*1000 (1-based)
    results       TEXT    NOT NULL, -- JSON array of the chunk's results in position order: {"d":digest,"t":[tags],"p":pushed Unix ns,"a":action,"s":target storage class,"r":rule priority,"c":storage class}
    PRIMARY KEY (repository_id, chunk)
) STRICT;
