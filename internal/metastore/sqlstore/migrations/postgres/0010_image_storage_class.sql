-- 0010_image_storage_class: ECR's archive storage class, pull-time tracking
-- and pull-time update exclusions (PostgreSQL dialect; same schema and
-- queries as the SQLite file). Times are BIGINT Unix nanoseconds UTC, 0 for
-- never; rows owned by an account go with it through ON DELETE CASCADE.

-- Archived bytes stay in the blob store: archive and restore move no data.
ALTER TABLE manifests ADD COLUMN image_status TEXT COLLATE "C" NOT NULL DEFAULT 'ACTIVE'
    CHECK (image_status IN ('ACTIVE', 'ARCHIVED', 'ACTIVATING'));
ALTER TABLE manifests ADD COLUMN last_pulled_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE manifests ADD COLUMN last_archived_at BIGINT NOT NULL DEFAULT 0;
ALTER TABLE manifests ADD COLUMN last_activated_at BIGINT NOT NULL DEFAULT 0;
COMMENT ON COLUMN manifests.image_status IS 'ACTIVE (standard storage class, pullable), ARCHIVED (archive storage class, not pullable, still listed) or ACTIVATING (restore requested; the image-restore job makes it ACTIVE)';
COMMENT ON COLUMN manifests.last_pulled_at IS 'latest recorded pull (GET or HEAD of the manifest, BatchGetImage) by a principal not excluded, written in batches by each node''s pull-time buffer and only ever moved forward, Unix ns UTC; 0 = never';
COMMENT ON COLUMN manifests.last_archived_at IS 'last move to ARCHIVED, Unix ns UTC; 0 = never';
COMMENT ON COLUMN manifests.last_activated_at IS 'last completed restore (the image-restore job, or a re-push), Unix ns UTC; 0 = never';

-- Serves listings of archived or restoring images of a repository (ECR's
-- imageStatus filter) and the image-restore job's scan for ACTIVATING
-- images, without touching the (usually far more numerous) ACTIVE rows.
CREATE INDEX manifests_by_status ON manifests (image_status, repository_id, digest)
    WHERE image_status <> 'ACTIVE';

CREATE TABLE pull_time_exclusions (
    account_id    TEXT COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    principal_arn TEXT COLLATE "C" NOT NULL,
    created_at    BIGINT           NOT NULL,
    PRIMARY KEY (account_id, principal_arn) -- also serves the listing and the per-account count
);
COMMENT ON TABLE pull_time_exclusions IS 'IAM principals whose pulls do not update manifests.last_pulled_at in the account''s registry (RegisterPullTimeUpdateExclusion); at most 100 per account, enforced by the store in the inserting transaction';
COMMENT ON COLUMN pull_time_exclusions.account_id IS 'the registry';
COMMENT ON COLUMN pull_time_exclusions.principal_arn IS 'IAM user or role ARN exactly as registered; listed in byte order';
COMMENT ON COLUMN pull_time_exclusions.created_at IS 'when it was registered, Unix ns UTC';
