-- 0001_init: Berth metadata schema (PostgreSQL dialect). It mirrors
-- migrations/sqlite/0001_init.sql table for table and column for column, so
-- the store runs the same queries on both engines.
--
-- Conventions
--   * Timestamps are BIGINT Unix nanoseconds in UTC (*_at columns); every
--     other integer is BIGINT too.
--   * Booleans are INTEGER 0/1 with a CHECK, as in SQLite, so queries and
--     parameters are the same on both engines.
--   * Names, keys and digests are TEXT COLLATE "C": ORDER BY and keyset
--     pagination (name > $n) are then byte order, as the OCI and ECR APIs
--     require and SQLite's BINARY collation gives, whatever the database's
--     default collation; lower() then folds ASCII only, as SQLite's does.
--   * Blobs of bytes are BYTEA.
--   * Digests are stored as their canonical string form ("sha256:<hex>").
--   * Every table is owned by exactly one repository or account and is
--     removed with it through ON DELETE CASCADE, except blobs: the global
--     set of committed blobs outlives repositories until garbage collection.
--   * Every table and column carries its meaning as a COMMENT, so it is
--     also in the catalog (\d+ in psql).

CREATE TABLE accounts (
    id         TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    created_at BIGINT           NOT NULL
);
COMMENT ON TABLE accounts IS 'One registry per account, named by a 12-digit id.';
COMMENT ON COLUMN accounts.id IS '12-digit account id';
COMMENT ON COLUMN accounts.created_at IS 'when the account was created, Unix ns UTC';

CREATE TABLE access_keys (
    id                TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    account_id        TEXT COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    user_name         TEXT COLLATE "C" NOT NULL DEFAULT '',
    secret_ciphertext BYTEA            NOT NULL,
    active            INTEGER          NOT NULL DEFAULT 1 CHECK (active IN (0, 1)),
    created_at        BIGINT           NOT NULL
);
COMMENT ON TABLE access_keys IS 'IAM-style access keys of the account root or an IAM user.';
COMMENT ON COLUMN access_keys.id IS 'access key id (AKIA...)';
COMMENT ON COLUMN access_keys.account_id IS 'owning account';
COMMENT ON COLUMN access_keys.user_name IS 'IAM user name; empty for the account root';
COMMENT ON COLUMN access_keys.secret_ciphertext IS 'secret key sealed by the caller; never plaintext';
COMMENT ON COLUMN access_keys.active IS '1 = Active, 0 = Inactive';
COMMENT ON COLUMN access_keys.created_at IS 'when the key was issued, Unix ns UTC';

-- Serves ListAccessKeys (account, user) in issue order.
CREATE INDEX access_keys_by_user ON access_keys (account_id, user_name, created_at);

CREATE TABLE repositories (
    id                   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id           TEXT COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name                 TEXT COLLATE "C" NOT NULL,
    created_at           BIGINT           NOT NULL,
    image_tag_mutability TEXT             NOT NULL DEFAULT '',
    scan_on_push         INTEGER          NOT NULL DEFAULT 0 CHECK (scan_on_push IN (0, 1)),
    encryption_type      TEXT             NOT NULL DEFAULT '',
    kms_key              TEXT             NOT NULL DEFAULT '',
    UNIQUE (account_id, name)  -- also serves ListRepositories in byte order
);
COMMENT ON TABLE repositories IS 'ECR repositories. id is never reused (an identity sequence), so a stale id held by a job or an upload cannot reach a newer repository that happens to have the same name.';
COMMENT ON COLUMN repositories.id IS 'repository id, assigned by the database';
COMMENT ON COLUMN repositories.account_id IS 'owning account (registry)';
COMMENT ON COLUMN repositories.name IS 'full repository name, e.g. team/app; listed in byte order';
COMMENT ON COLUMN repositories.created_at IS 'when the repository was created, Unix ns UTC';
COMMENT ON COLUMN repositories.image_tag_mutability IS 'MUTABLE, IMMUTABLE, ...';
COMMENT ON COLUMN repositories.scan_on_push IS '1 = scan images on push';
COMMENT ON COLUMN repositories.encryption_type IS 'AES256 or KMS';
COMMENT ON COLUMN repositories.kms_key IS 'KMS key ARN when encryption_type = KMS';

CREATE TABLE blobs (
    digest     TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    size       BIGINT           NOT NULL CHECK (size >= 0),
    created_at BIGINT           NOT NULL
);
COMMENT ON TABLE blobs IS 'The global, deduplicated set of committed blobs (content in the blob store, keyed by digest). Rows are removed only by garbage collection.';
COMMENT ON COLUMN blobs.digest IS 'content digest, e.g. sha256:<hex>';
COMMENT ON COLUMN blobs.size IS 'bytes';
COMMENT ON COLUMN blobs.created_at IS 'first commit of this content, Unix ns UTC';

CREATE TABLE repository_blobs (
    repository_id BIGINT           NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    digest        TEXT COLLATE "C" NOT NULL REFERENCES blobs (digest),
    linked_at     BIGINT           NOT NULL,
    PRIMARY KEY (repository_id, digest)
);
COMMENT ON TABLE repository_blobs IS 'Which repositories may use which blobs (an upload or a mount links a blob; manifests may only reference linked blobs).';
COMMENT ON COLUMN repository_blobs.repository_id IS 'the repository the blob is linked to';
COMMENT ON COLUMN repository_blobs.digest IS 'the linked blob';
COMMENT ON COLUMN repository_blobs.linked_at IS 'last time the link was (re)asserted, Unix ns UTC; GC grace counts from here';

-- Serves "is this blob linked anywhere" (GC) and AccountBlobSize.
CREATE INDEX repository_blobs_by_digest ON repository_blobs (digest);

CREATE TABLE manifests (
    repository_id  BIGINT           NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    digest         TEXT COLLATE "C" NOT NULL,
    media_type     TEXT             NOT NULL,
    artifact_type  TEXT             NOT NULL DEFAULT '',
    subject_digest TEXT COLLATE "C",
    annotations    TEXT,
    size           BIGINT           NOT NULL,
    body           BYTEA            NOT NULL,
    image_size     BIGINT           NOT NULL,
    pushed_at      BIGINT           NOT NULL,
    PRIMARY KEY (repository_id, digest)
);
COMMENT ON TABLE manifests IS 'Image manifests and indexes, the exact bytes as pushed. A row is visible only after its transaction commits, and the commit is durable before the registry answers 201.';
COMMENT ON COLUMN manifests.repository_id IS 'owning repository';
COMMENT ON COLUMN manifests.digest IS 'digest of body';
COMMENT ON COLUMN manifests.media_type IS 'manifest media type as pushed';
COMMENT ON COLUMN manifests.artifact_type IS 'artifactType or config media type; empty when none';
COMMENT ON COLUMN manifests.subject_digest IS 'OCI subject; NULL when the manifest has none';
COMMENT ON COLUMN manifests.annotations IS 'JSON object of string->string; NULL when empty';
COMMENT ON COLUMN manifests.size IS 'len(body)';
COMMENT ON COLUMN manifests.body IS 'manifest bytes exactly as pushed';
COMMENT ON COLUMN manifests.image_size IS 'ECR imageSizeInBytes';
COMMENT ON COLUMN manifests.pushed_at IS 'first push, Unix ns UTC; a re-push keeps it';

-- Serves the referrers API: manifests whose subject is a digest, by digest.
CREATE INDEX manifests_by_subject ON manifests (repository_id, subject_digest, digest)
    WHERE subject_digest IS NOT NULL;

CREATE TABLE manifest_references (
    repository_id   BIGINT           NOT NULL,
    manifest_digest TEXT COLLATE "C" NOT NULL,
    kind            TEXT COLLATE "C" NOT NULL CHECK (kind IN ('blob', 'manifest')),
    ref_digest      TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (repository_id, manifest_digest, kind, ref_digest),
    FOREIGN KEY (repository_id, manifest_digest)
        REFERENCES manifests (repository_id, digest) ON DELETE CASCADE
);
COMMENT ON TABLE manifest_references IS 'Descriptors a manifest points to (config and layers as kind blob, index children as kind manifest). Derived from the body; kept so GC and delete checks need not parse manifests.';
COMMENT ON COLUMN manifest_references.repository_id IS 'repository of both manifests';
COMMENT ON COLUMN manifest_references.manifest_digest IS 'the referring manifest';
COMMENT ON COLUMN manifest_references.kind IS 'blob or manifest';
COMMENT ON COLUMN manifest_references.ref_digest IS 'the referenced blob or manifest';

-- Serves "is this manifest a child of an index" (DeleteManifest) and
-- "is this blob used by a manifest" (GC).
CREATE INDEX manifest_references_by_ref ON manifest_references (repository_id, ref_digest, kind);

CREATE TABLE tags (
    repository_id BIGINT           NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    name          TEXT COLLATE "C" NOT NULL,
    digest        TEXT COLLATE "C" NOT NULL,
    updated_at    BIGINT           NOT NULL,
    PRIMARY KEY (repository_id, name), -- also serves ListTags in byte order
    FOREIGN KEY (repository_id, digest)
        REFERENCES manifests (repository_id, digest) ON DELETE CASCADE
);
COMMENT ON TABLE tags IS 'Mutable names for manifests. A tag always points at an existing manifest; deleting the manifest deletes its tags.';
COMMENT ON COLUMN tags.repository_id IS 'owning repository';
COMMENT ON COLUMN tags.name IS 'tag name; listed in byte order';
COMMENT ON COLUMN tags.digest IS 'the manifest the tag points at';
COMMENT ON COLUMN tags.updated_at IS 'last time the tag was pointed (even at the same digest), Unix ns UTC';

-- Serves "tags of this manifest" (DescribeImages, DeleteManifest cascade).
CREATE INDEX tags_by_digest ON tags (repository_id, digest);

CREATE TABLE uploads (
    id            TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    repository_id BIGINT           NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    byte_offset   BIGINT           NOT NULL CHECK (byte_offset >= 0),
    hash_state    BYTEA,
    algorithm     TEXT             NOT NULL,
    store_state   BYTEA,
    created_at    BIGINT           NOT NULL,
    updated_at    BIGINT           NOT NULL
);
COMMENT ON TABLE uploads IS 'Resumable blob upload sessions: the state needed to continue an upload on any node.';
COMMENT ON COLUMN uploads.id IS 'random UUID; the only handle clients see';
COMMENT ON COLUMN uploads.repository_id IS 'the repository the upload goes to';
COMMENT ON COLUMN uploads.byte_offset IS 'bytes received and persisted; compare-and-swap token';
COMMENT ON COLUMN uploads.hash_state IS 'marshalled hash state after byte_offset bytes';
COMMENT ON COLUMN uploads.algorithm IS 'digest algorithm (sha256, sha512)';
COMMENT ON COLUMN uploads.store_state IS 'blob store''s resumable state';
COMMENT ON COLUMN uploads.created_at IS 'when the session started, Unix ns UTC';
COMMENT ON COLUMN uploads.updated_at IS 'last accepted chunk, Unix ns UTC; expiry counts from here';

-- Serves ExpiredUploads, oldest first (id breaks ties deterministically).
CREATE INDEX uploads_by_updated ON uploads (updated_at, id);
-- Serves repository cascade deletes.
CREATE INDEX uploads_by_repository ON uploads (repository_id);
