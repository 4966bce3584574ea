-- 0004_iam: IAM users, their tags and inline policies, customer-managed
-- policies and policy attachments (PostgreSQL dialect). Conventions as in
-- 0001_init: BIGINT Unix-nanosecond *_at columns, COLLATE "C" where byte
-- order is listed.
--
-- IAM compares user and policy names case-insensitively, so each name has a
-- *_key column holding it folded to lower case (ASCII only: IAM names are
-- ASCII, [\w+=,.@-]); keys enforce uniqueness and join tables, the name
-- columns keep the name as created.
--
-- Every row goes with its account through ON DELETE CASCADE. Inline
-- policies and attachments reference their user without a cascade, so the
-- database itself refuses to delete a user who still has policies
-- (DeleteUser reports that as ErrDeleteConflict before trying). Access keys
-- of users live in access_keys (user_name).

CREATE TABLE iam_users (
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name       TEXT COLLATE "C" NOT NULL,
    name_key   TEXT COLLATE "C" NOT NULL,
    id         TEXT COLLATE "C" NOT NULL,
    path       TEXT COLLATE "C" NOT NULL,
    created_at BIGINT           NOT NULL,
    PRIMARY KEY (account_id, name_key),
    UNIQUE (id)
);
COMMENT ON TABLE iam_users IS 'IAM users of an account.';
COMMENT ON COLUMN iam_users.account_id IS 'owning account';
COMMENT ON COLUMN iam_users.name IS 'user name as created; listed in byte order';
COMMENT ON COLUMN iam_users.name_key IS 'name folded to lower case; unique per account';
COMMENT ON COLUMN iam_users.id IS 'AIDA... unique id, never reused';
COMMENT ON COLUMN iam_users.path IS 'IAM path, / by default';
COMMENT ON COLUMN iam_users.created_at IS 'when the user was created, Unix ns UTC';

-- Serves ListUsers in byte order of name.
CREATE INDEX iam_users_by_name ON iam_users (account_id, name);

CREATE TABLE iam_user_tags (
    account_id TEXT COLLATE "C" NOT NULL,
    user_key   TEXT COLLATE "C" NOT NULL,
    key        TEXT COLLATE "C" NOT NULL,
    value      TEXT             NOT NULL,
    PRIMARY KEY (account_id, user_key, key), -- also serves listing and the tag-limit count
    FOREIGN KEY (account_id, user_key)
        REFERENCES iam_users (account_id, name_key) ON DELETE CASCADE
);
COMMENT ON TABLE iam_user_tags IS 'Tags on an IAM user (TagUser); removed with the user.';
COMMENT ON COLUMN iam_user_tags.account_id IS 'account of the tagged user';
COMMENT ON COLUMN iam_user_tags.user_key IS 'iam_users.name_key of the tagged user';
COMMENT ON COLUMN iam_user_tags.key IS 'tag key, case-sensitive; listed in byte order';
COMMENT ON COLUMN iam_user_tags.value IS 'tag value; may be empty';

CREATE TABLE iam_inline_policies (
    account_id TEXT COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    user_key   TEXT COLLATE "C" NOT NULL,
    name       TEXT COLLATE "C" NOT NULL,
    name_key   TEXT COLLATE "C" NOT NULL,
    document   TEXT             NOT NULL,
    PRIMARY KEY (account_id, user_key, name_key), -- also serves IdentityPolicies
    -- No cascade: a user with inline policies cannot be deleted.
    FOREIGN KEY (account_id, user_key) REFERENCES iam_users (account_id, name_key)
);
COMMENT ON TABLE iam_inline_policies IS 'Policies embedded in a user (PutUserPolicy), stored verbatim as the caller validated them. No cascade from the user: a user with inline policies cannot be deleted.';
COMMENT ON COLUMN iam_inline_policies.account_id IS 'account of the owning user';
COMMENT ON COLUMN iam_inline_policies.user_key IS 'iam_users.name_key of the owning user';
COMMENT ON COLUMN iam_inline_policies.name IS 'policy name as first put; listed in byte order';
COMMENT ON COLUMN iam_inline_policies.name_key IS 'name folded to lower case; unique per user';
COMMENT ON COLUMN iam_inline_policies.document IS 'IAM policy JSON exactly as put';

CREATE TABLE iam_managed_policies (
    account_id  TEXT COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name        TEXT COLLATE "C" NOT NULL,
    name_key    TEXT COLLATE "C" NOT NULL,
    arn_key     TEXT COLLATE "C" NOT NULL,
    id          TEXT COLLATE "C" NOT NULL,
    path        TEXT COLLATE "C" NOT NULL,
    description TEXT             NOT NULL,
    document    TEXT             NOT NULL,
    created_at  BIGINT           NOT NULL,
    updated_at  BIGINT           NOT NULL,
    PRIMARY KEY (account_id, name_key),
    UNIQUE (arn_key), -- attachments find their policy by ARN (IdentityPolicies)
    UNIQUE (id)
);
COMMENT ON TABLE iam_managed_policies IS 'Customer-managed policies of an account. Berth keeps one version, the default.';
COMMENT ON COLUMN iam_managed_policies.account_id IS 'owning account';
COMMENT ON COLUMN iam_managed_policies.name IS 'policy name as created; listed in byte order';
COMMENT ON COLUMN iam_managed_policies.name_key IS 'name folded to lower case; unique per account';
COMMENT ON COLUMN iam_managed_policies.arn_key IS 'arn:aws:iam::<account>:policy<path><name>, folded to lower case';
COMMENT ON COLUMN iam_managed_policies.id IS 'ANPA... unique id, never reused';
COMMENT ON COLUMN iam_managed_policies.path IS 'IAM path, / by default';
COMMENT ON COLUMN iam_managed_policies.description IS 'may be empty';
COMMENT ON COLUMN iam_managed_policies.document IS 'IAM policy JSON exactly as given';
COMMENT ON COLUMN iam_managed_policies.created_at IS 'when the policy was created, Unix ns UTC';
COMMENT ON COLUMN iam_managed_policies.updated_at IS 'last change of the document, Unix ns UTC';

-- Serves ListPolicies in byte order of name.
CREATE INDEX iam_managed_policies_by_name ON iam_managed_policies (account_id, name);

CREATE TABLE iam_user_policy_attachments (
    account_id  TEXT COLLATE "C" NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    user_key    TEXT COLLATE "C" NOT NULL,
    policy_arn  TEXT COLLATE "C" NOT NULL,
    policy_key  TEXT COLLATE "C" NOT NULL,
    attached_at BIGINT           NOT NULL,
    PRIMARY KEY (account_id, user_key, policy_key), -- also serves IdentityPolicies
    -- No cascade: a user with attached policies cannot be deleted.
    FOREIGN KEY (account_id, user_key) REFERENCES iam_users (account_id, name_key)
);
COMMENT ON TABLE iam_user_policy_attachments IS 'Managed policies attached to a user (AttachUserPolicy), by ARN: a customer-managed policy of the account (matched to iam_managed_policies.arn_key) or an AWS-managed one (arn:aws:iam::aws:policy/..., whose document the caller knows). No cascade from the user: a user with attached policies cannot be deleted.';
COMMENT ON COLUMN iam_user_policy_attachments.account_id IS 'account of the user';
COMMENT ON COLUMN iam_user_policy_attachments.user_key IS 'iam_users.name_key of the user';
COMMENT ON COLUMN iam_user_policy_attachments.policy_arn IS 'ARN as first attached; listed in byte order';
COMMENT ON COLUMN iam_user_policy_attachments.policy_key IS 'policy_arn folded to lower case; attaching is idempotent on it';
COMMENT ON COLUMN iam_user_policy_attachments.attached_at IS 'first attachment, Unix ns UTC';

-- Serves DeletePolicy's "still attached" check and ManagedPolicy.Attachments.
CREATE INDEX iam_user_policy_attachments_by_policy ON iam_user_policy_attachments (account_id, policy_key);

-- Serves DeleteUser's "user still has access keys" check, which matches
-- access_keys.user_name case-insensitively as IAM matches user names
-- (lower() of a COLLATE "C" column folds ASCII only, like nameKey).
CREATE INDEX access_keys_by_user_key ON access_keys (account_id, lower(user_name));
