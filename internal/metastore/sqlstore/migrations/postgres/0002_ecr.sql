-- 0002_ecr: ECR control-plane state (PostgreSQL dialect): repository
-- resource tags and policies, registry policies, account settings and the
-- shared signing keys. Conventions as in 0001_init: BIGINT Unix-nanosecond
-- *_at columns, COLLATE "C" where byte order is listed, and every row owned
-- by a repository or account goes with it through ON DELETE CASCADE.
-- Repository settings (image_tag_mutability, scan_on_push) already live in
-- repositories.

CREATE TABLE repository_resource_tags (
    repository_id BIGINT           NOT NULL REFERENCES repositories (id) ON DELETE CASCADE,
    key           TEXT COLLATE "C" NOT NULL,
    value         TEXT             NOT NULL,
    PRIMARY KEY (repository_id, key) -- also serves ListResourceTags and the tag-limit count
);
COMMENT ON TABLE repository_resource_tags IS 'AWS resource tags on a repository (TagResource, ListTagsForResource); not image tags, which live in tags.';
COMMENT ON COLUMN repository_resource_tags.repository_id IS 'the tagged repository';
COMMENT ON COLUMN repository_resource_tags.key IS 'tag key, case-sensitive; listed in byte order';
COMMENT ON COLUMN repository_resource_tags.value IS 'tag value; may be empty';

CREATE TABLE repository_policies (
    repository_id BIGINT NOT NULL PRIMARY KEY REFERENCES repositories (id) ON DELETE CASCADE,
    policy_text   TEXT   NOT NULL,
    updated_at    BIGINT NOT NULL
);
COMMENT ON TABLE repository_policies IS 'The one resource policy of a repository (SetRepositoryPolicy), stored verbatim as the caller validated it.';
COMMENT ON COLUMN repository_policies.repository_id IS 'the repository the policy is attached to';
COMMENT ON COLUMN repository_policies.policy_text IS 'IAM policy JSON exactly as set';
COMMENT ON COLUMN repository_policies.updated_at IS 'last SetRepositoryPolicy, Unix ns UTC';

CREATE TABLE registry_policies (
    account_id  TEXT COLLATE "C" NOT NULL PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    policy_text TEXT             NOT NULL,
    updated_at  BIGINT           NOT NULL
);
COMMENT ON TABLE registry_policies IS 'The one registry policy of an account (PutRegistryPolicy), stored verbatim as the caller validated it.';
COMMENT ON COLUMN registry_policies.account_id IS 'the account (registry) the policy belongs to';
COMMENT ON COLUMN registry_policies.policy_text IS 'IAM policy JSON exactly as put';
COMMENT ON COLUMN registry_policies.updated_at IS 'last PutRegistryPolicy, Unix ns UTC';

CREATE TABLE account_settings (
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name       TEXT COLLATE "C" NOT NULL,
    value      TEXT             NOT NULL,
    PRIMARY KEY (account_id, name)
);
COMMENT ON TABLE account_settings IS 'Per-account registry settings (PutAccountSetting), e.g. BASIC_SCAN_TYPE_VERSION; names and values are the caller''s.';
COMMENT ON COLUMN account_settings.account_id IS 'the account the setting belongs to';
COMMENT ON COLUMN account_settings.name IS 'setting name, case-sensitive';
COMMENT ON COLUMN account_settings.value IS 'setting value as put';

CREATE TABLE signing_keys (
    id                TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    secret_ciphertext BYTEA            NOT NULL,
    created_at        BIGINT           NOT NULL
);
COMMENT ON TABLE signing_keys IS 'Server secrets that sign registry passwords and layer download URLs, shared by every node so any node verifies what another signed. Not owned by an account: rotation removes old keys by age.';
COMMENT ON COLUMN signing_keys.id IS 'key id, carried in what the key signs';
COMMENT ON COLUMN signing_keys.secret_ciphertext IS 'secret sealed by the caller; never plaintext';
COMMENT ON COLUMN signing_keys.created_at IS 'when the key was minted, Unix ns UTC; rotation counts from here';

-- Serves ListSigningKeys (newest first; id breaks ties) and
-- DeleteSigningKeysBefore.
CREATE INDEX signing_keys_by_created ON signing_keys (created_at, id);
