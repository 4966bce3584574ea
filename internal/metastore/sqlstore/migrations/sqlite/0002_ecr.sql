-- 0002_ecr: ECR control-plane state (SQLite dialect): repository resource
-- tags and policies, registry policies, account settings and the shared
-- signing keys. Conventions as in 0001_init: Unix-nanosecond *_at columns,
-- STRICT tables, BINARY collation where byte order is listed, and every row
-- owned by a repository or account goes with it through ON DELETE CASCADE.
-- Repository settings (image_tag_mutability, scan_on_push) already live in
-- repositories.

-- repository_resource_tags: AWS resource tags on a repository
-- (TagResource, ListTagsForResource); not image tags, which live in tags.
CREATE TABLE repository_resource_tags (
    repository_id INTEGER NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    key           TEXT    NOT NULL COLLATE BINARY, -- tag key, case-sensitive; listed in byte order
    value         TEXT    NOT NULL,                -- tag value; may be ''
    PRIMARY KEY (repository_id, key) -- also serves ListResourceTags and the tag-limit count
) STRICT, WITHOUT ROWID;

-- repository_policies: the one resource policy of a repository
-- (SetRepositoryPolicy), stored verbatim as the caller validated it.
CREATE TABLE repository_policies (
    repository_id INTEGER NOT NULL PRIMARY KEY REFERENCES repositories (id) ON DELETE CASCADE,
    policy_text   TEXT    NOT NULL, -- IAM policy JSON exactly as set
    updated_at    INTEGER NOT NULL  -- last SetRepositoryPolicy
) STRICT;

-- registry_policies: the one registry policy of an account
-- (PutRegistryPolicy), stored verbatim as the caller validated it.
CREATE TABLE registry_policies (
    account_id  TEXT    NOT NULL PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    policy_text TEXT    NOT NULL, -- IAM policy JSON exactly as put
    updated_at  INTEGER NOT NULL  -- last PutRegistryPolicy
) STRICT;

-- account_settings: per-account registry settings (PutAccountSetting),
-- e.g. BASIC_SCAN_TYPE_VERSION; names and values are the caller's.
CREATE TABLE account_settings (
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name       TEXT NOT NULL COLLATE BINARY, -- setting name, case-sensitive
    value      TEXT NOT NULL,                -- setting value as put
    PRIMARY KEY (account_id, name)
) STRICT, WITHOUT ROWID;

-- signing_keys: server secrets that sign registry passwords and layer
-- download URLs, shared by every node so any node verifies what another
-- signed. Not owned by an account: rotation removes old keys by age.
CREATE TABLE signing_keys (
    id                TEXT    NOT NULL PRIMARY KEY, -- key id, carried in what the key signs
    secret_ciphertext BLOB    NOT NULL,             -- secret sealed by the caller; never plaintext
    created_at        INTEGER NOT NULL              -- when the key was minted; rotation counts from here
) STRICT;

-- Serves ListSigningKeys (newest first; id breaks ties) and
-- DeleteSigningKeysBefore.
CREATE INDEX signing_keys_by_created ON signing_keys (created_at, id);
