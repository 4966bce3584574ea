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
-- evaluator's decision order.
CREATE TABLE lifecycle_preview_results (
    repository_id        INTEGER NOT NULL REFERENCES lifecycle_previews (repository_id) ON DELETE CASCADE,
    position             INTEGER NOT NULL, -- 1-based place in the decision order; pages are ranges of it
    digest               TEXT    NOT NULL, -- imageDigest
    tags                 TEXT    NOT NULL, -- imageTags at evaluation, joined by newlines; '' = untagged
    pushed_at            INTEGER NOT NULL, -- imagePushedAt
    action               TEXT    NOT NULL CHECK (action IN ('EXPIRE', 'TRANSITION')), -- action.type
    target_storage_class TEXT    NOT NULL, -- action.targetStorageClass: 'ARCHIVE' for TRANSITION, '' for EXPIRE
    rule_priority        INTEGER NOT NULL, -- appliedRulePriority
    storage_class        TEXT    NOT NULL CHECK (storage_class IN ('STANDARD', 'ARCHIVE')), -- the image's class at evaluation
    PRIMARY KEY (repository_id, position)
) STRICT, WITHOUT ROWID;

-- Serves GetLifecyclePolicyPreview with imageIds.
CREATE INDEX lifecycle_preview_results_by_digest ON lifecycle_preview_results (repository_id, digest);
