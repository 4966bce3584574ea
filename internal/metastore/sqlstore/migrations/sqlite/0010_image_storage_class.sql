-- 0010_image_storage_class: ECR's archive storage class, pull-time tracking
-- and pull-time update exclusions (SQLite dialect). Conventions as in
-- 0001_init: Unix-nanosecond *_at columns (0 = never), STRICT tables,
-- BINARY collation where byte order is listed, rows owned by an account go
-- with it through ON DELETE CASCADE.

-- manifests.image_status: ACTIVE (standard storage class, pullable),
-- ARCHIVED (archive storage class, not pullable, still listed) or ACTIVATING
-- (restore requested; the image-restore job makes it ACTIVE). Archived
-- bytes stay in the blob store: archive and restore move no data.
ALTER TABLE manifests ADD COLUMN image_status TEXT NOT NULL DEFAULT 'ACTIVE'
    CHECK (image_status IN ('ACTIVE', 'ARCHIVED', 'ACTIVATING'));
-- manifests.last_pulled_at: the latest recorded pull (GET or HEAD of the
-- manifest, BatchGetImage) by a principal not excluded; written in batches
-- by each node's pull-time buffer and only ever moved forward; 0 = never.
ALTER TABLE manifests ADD COLUMN last_pulled_at INTEGER NOT NULL DEFAULT 0;
-- manifests.last_archived_at: the last move to ARCHIVED; 0 = never.
ALTER TABLE manifests ADD COLUMN last_archived_at INTEGER NOT NULL DEFAULT 0;
-- manifests.last_activated_at: the last restore that completed (the
-- image-restore job, or a re-push); 0 = never.
ALTER TABLE manifests ADD COLUMN last_activated_at INTEGER NOT NULL DEFAULT 0;

-- Serves listings of archived or restoring images of a repository (ECR's
-- imageStatus filter) and the image-restore job's scan for ACTIVATING
-- images, without touching the (usually far more numerous) ACTIVE rows.
-- Queries repeat the predicate "image_status <> 'ACTIVE'" so SQLite sees
-- that this partial index applies.
CREATE INDEX manifests_by_status ON manifests (image_status, repository_id, digest)
    WHERE image_status <> 'ACTIVE';

-- pull_time_exclusions: IAM principals whose pulls do not update
-- manifests.last_pulled_at in the account's registry
-- (RegisterPullTimeUpdateExclusion); at most 100 per account, enforced by
-- the store in the inserting transaction.
CREATE TABLE pull_time_exclusions (
    account_id    TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE, -- the registry
    principal_arn TEXT    NOT NULL COLLATE BINARY, -- IAM user or role ARN exactly as registered; listed in byte order
    created_at    INTEGER NOT NULL,                -- when it was registered
    PRIMARY KEY (account_id, principal_arn) -- also serves the listing and the per-account count
) STRICT, WITHOUT ROWID;
