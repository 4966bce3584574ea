-- 0001_init: Berth metadata schema (SQLite dialect).
--
-- Conventions
--   * Timestamps are INTEGER Unix nanoseconds in UTC (*_at columns).
--   * Names that are listed with pagination (repositories.name, tags.name) use
--     the BINARY collation so ORDER BY is byte order, as the OCI and ECR APIs
--     require; the PostgreSQL schema uses COLLATE "C" for the same reason.
--   * Digests are stored as their canonical string form ("sha256:<hex>").
--   * STRICT tables make SQLite reject values of the wrong type instead of
--     silently coercing them.
--   * Every table is owned by exactly one repository or account and is
--     removed with it through ON DELETE CASCADE, except blobs: the global
--     set of committed blobs outlives repositories until garbage collection.

-- accounts: one registry per account, named by a 12-digit id.
CREATE TABLE accounts (
    id         TEXT    NOT NULL PRIMARY KEY, -- 12-digit account id
    created_at INTEGER NOT NULL              -- when the account was created
) STRICT;

-- access_keys: IAM-style access keys of the account root or an IAM user.
CREATE TABLE access_keys (
    id                TEXT    NOT NULL PRIMARY KEY,   -- access key id (AKIA...)
    account_id        TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    user_name         TEXT    NOT NULL DEFAULT '',    -- IAM user name; '' for the account root
    secret_ciphertext BLOB    NOT NULL,               -- secret key sealed by the caller; never plaintext
    active            INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0, 1)), -- 0 = Inactive
    created_at        INTEGER NOT NULL                -- when the key was issued
) STRICT;

-- Serves ListAccessKeys (account, user) in issue order.
CREATE INDEX access_keys_by_user ON access_keys (account_id, user_name, created_at);

-- repositories: ECR repositories. id is never reused (AUTOINCREMENT), so a
-- stale id held by a job or an upload cannot reach a newer repository that
-- happens to have the same name.
CREATE TABLE repositories (
    id                   INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    account_id           TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name                 TEXT    NOT NULL COLLATE BINARY, -- full repository name, e.g. "team/app"
    created_at           INTEGER NOT NULL,
    image_tag_mutability TEXT    NOT NULL DEFAULT '',     -- MUTABLE, IMMUTABLE, ...
    scan_on_push         INTEGER NOT NULL DEFAULT 0 CHECK (scan_on_push IN (0, 1)),
    encryption_type      TEXT    NOT NULL DEFAULT '',     -- AES256 or KMS
    kms_key              TEXT    NOT NULL DEFAULT '',     -- KMS key ARN when encryption_type = KMS
    UNIQUE (account_id, name)  -- also serves ListRepositories in byte order
) STRICT;

-- blobs: the global, deduplicated set of committed blobs (content in the
-- blob store, keyed by digest). Rows are removed only by garbage collection.
CREATE TABLE blobs (
    digest     TEXT    NOT NULL PRIMARY KEY,
    size       INTEGER NOT NULL CHECK (size >= 0), -- bytes
    created_at INTEGER NOT NULL                    -- first commit of this content
) STRICT;

-- repository_blobs: which repositories may use which blobs (an upload or a
-- mount links a blob; manifests may only reference linked blobs).
CREATE TABLE repository_blobs (
    repository_id INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    digest        TEXT    NOT NULL REFERENCES blobs (digest),
    linked_at     INTEGER NOT NULL, -- last time the link was (re)asserted; GC grace counts from here
    PRIMARY KEY (repository_id, digest)
) STRICT, WITHOUT ROWID;

-- Serves "is this blob linked anywhere" (GC) and AccountBlobSize.
CREATE INDEX repository_blobs_by_digest ON repository_blobs (digest);

-- manifests: image manifests and indexes, the exact bytes as pushed. A row
-- is visible only after its transaction commits (synchronous=FULL makes that
-- commit durable before the registry answers 201).
CREATE TABLE manifests (
    repository_id  INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    digest         TEXT    NOT NULL,
    media_type     TEXT    NOT NULL,
    artifact_type  TEXT    NOT NULL DEFAULT '', -- artifactType or config media type; '' when none
    subject_digest TEXT,                        -- OCI subject; NULL when the manifest has none
    annotations    TEXT,                        -- JSON object of string->string; NULL when empty
    size           INTEGER NOT NULL,            -- len(body)
    body           BLOB    NOT NULL,            -- manifest bytes exactly as pushed
    image_size     INTEGER NOT NULL,            -- ECR imageSizeInBytes
    pushed_at      INTEGER NOT NULL,            -- first push; a re-push keeps it
    PRIMARY KEY (repository_id, digest)
) STRICT;

-- Serves the referrers API: manifests whose subject is a digest, by digest.
CREATE INDEX manifests_by_subject ON manifests (repository_id, subject_digest, digest)
    WHERE subject_digest IS NOT NULL;

-- manifest_references: descriptors a manifest points to (config and layers
-- as kind 'blob', index children as kind 'manifest'). Derived from the body;
-- kept so GC and delete checks need not parse manifests.
CREATE TABLE manifest_references (
    repository_id   INTEGER NOT NULL,
    manifest_digest TEXT    NOT NULL, -- the referring manifest
    kind            TEXT    NOT NULL CHECK (kind IN ('blob', 'manifest')),
    ref_digest      TEXT    NOT NULL, -- the referenced blob or manifest
    PRIMARY KEY (repository_id, manifest_digest, kind, ref_digest),
    FOREIGN KEY (repository_id, manifest_digest)
        REFERENCES manifests (repository_id, digest) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

-- Serves "is this manifest a child of an index" (DeleteManifest) and
-- "is this blob used by a manifest" (GC).
CREATE INDEX manifest_references_by_ref ON manifest_references (repository_id, ref_digest, kind);

-- tags: mutable names for manifests. A tag always points at an existing
-- manifest; deleting the manifest deletes its tags.
CREATE TABLE tags (
    repository_id INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    name          TEXT    NOT NULL COLLATE BINARY,
    digest        TEXT    NOT NULL,
    updated_at    INTEGER NOT NULL, -- last time the tag was pointed (even at the same digest)
    PRIMARY KEY (repository_id, name), -- also serves ListTags in byte order
    FOREIGN KEY (repository_id, digest)
        REFERENCES manifests (repository_id, digest) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

-- Serves "tags of this manifest" (DescribeImages, DeleteManifest cascade).
CREATE INDEX tags_by_digest ON tags (repository_id, digest);

-- uploads: resumable blob upload sessions; the state needed to continue an
-- upload on any node.
CREATE TABLE uploads (
    id            TEXT    NOT NULL PRIMARY KEY, -- random UUID; the only handle clients see
    repository_id INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    byte_offset   INTEGER NOT NULL CHECK (byte_offset >= 0), -- bytes received and persisted; CAS token
    hash_state    BLOB,                         -- marshalled hash state after byte_offset bytes
    algorithm     TEXT    NOT NULL,             -- digest algorithm ("sha256", "sha512")
    store_state   BLOB,                         -- blob store's resumable state
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL              -- last accepted chunk; expiry counts from here
) STRICT;

-- Serves ExpiredUploads, oldest first (id breaks ties deterministically).
CREATE INDEX uploads_by_updated ON uploads (updated_at, id);
-- Serves repository cascade deletes.
CREATE INDEX uploads_by_repository ON uploads (repository_id);
