-- 0004_iam: IAM users, their tags and inline policies, customer-managed
-- policies and policy attachments (SQLite dialect). Conventions as in
-- 0001_init: Unix-nanosecond *_at columns, STRICT tables, BINARY collation
-- where byte order is listed.
--
-- IAM compares user and policy names case-insensitively, so each name has a
-- *_key column holding it folded to lower case (ASCII only, as SQLite's
-- lower() folds: IAM names are ASCII, [\w+=,.@-]); keys enforce uniqueness
-- and join tables, the name columns keep the name as created.
--
-- Every row goes with its account through ON DELETE CASCADE. Inline
-- policies and attachments reference their user without a cascade, so the
-- database itself refuses to delete a user who still has policies
-- (DeleteUser reports that as ErrDeleteConflict before trying). Access keys
-- of users live in access_keys (user_name).

-- iam_users: IAM users of an account.
CREATE TABLE iam_users (
    account_id TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL COLLATE BINARY, -- user name as created; listed in byte order
    name_key   TEXT    NOT NULL,                -- name folded to lower case; unique per account
    id         TEXT    NOT NULL,                -- AIDA... unique id, never reused
    path       TEXT    NOT NULL,                -- IAM path, "/" by default
    created_at INTEGER NOT NULL,                -- when the user was created
    PRIMARY KEY (account_id, name_key),
    UNIQUE (id)
) STRICT, WITHOUT ROWID;

-- Serves ListUsers in byte order of name.
CREATE INDEX iam_users_by_name ON iam_users (account_id, name);

-- iam_user_tags: tags on an IAM user (TagUser); removed with the user.
CREATE TABLE iam_user_tags (
    account_id TEXT NOT NULL,
    user_key   TEXT NOT NULL,                -- iam_users.name_key of the tagged user
    key        TEXT NOT NULL COLLATE BINARY, -- tag key, case-sensitive; listed in byte order
    value      TEXT NOT NULL,                -- tag value; may be ''
    PRIMARY KEY (account_id, user_key, key), -- also serves listing and the tag-limit count
    FOREIGN KEY (account_id, user_key)
        REFERENCES iam_users (account_id, name_key) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

-- iam_inline_policies: policies embedded in a user (PutUserPolicy), stored
-- verbatim as the caller validated them.
CREATE TABLE iam_inline_policies (
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    user_key   TEXT NOT NULL,                -- iam_users.name_key of the owning user
    name       TEXT NOT NULL COLLATE BINARY, -- policy name as first put
    name_key   TEXT NOT NULL,                -- name folded to lower case; unique per user
    document   TEXT NOT NULL,                -- IAM policy JSON exactly as put
    PRIMARY KEY (account_id, user_key, name_key), -- also serves IdentityPolicies
    -- No cascade: a user with inline policies cannot be deleted.
    FOREIGN KEY (account_id, user_key) REFERENCES iam_users (account_id, name_key)
) STRICT;

-- iam_managed_policies: customer-managed policies of an account. Berth
-- keeps one version, the default.
CREATE TABLE iam_managed_policies (
    account_id  TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name        TEXT    NOT NULL COLLATE BINARY, -- policy name as created; listed in byte order
    name_key    TEXT    NOT NULL,                -- name folded to lower case; unique per account
    arn_key     TEXT    NOT NULL,                -- arn:aws:iam::<account>:policy<path><name>, folded to lower case
    id          TEXT    NOT NULL,                -- ANPA... unique id, never reused
    path        TEXT    NOT NULL,                -- IAM path, "/" by default
    description TEXT    NOT NULL,                -- may be ''
    document    TEXT    NOT NULL,                -- IAM policy JSON exactly as given
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,                -- last change of the document
    PRIMARY KEY (account_id, name_key),
    UNIQUE (arn_key), -- attachments find their policy by ARN (IdentityPolicies)
    UNIQUE (id)
) STRICT;

-- Serves ListPolicies in byte order of name.
CREATE INDEX iam_managed_policies_by_name ON iam_managed_policies (account_id, name);

-- iam_user_policy_attachments: managed policies attached to a user
-- (AttachUserPolicy), by ARN: a customer-managed policy of the account
-- (matched to iam_managed_policies.arn_key) or an AWS-managed one
-- (arn:aws:iam::aws:policy/..., whose document the caller knows).
CREATE TABLE iam_user_policy_attachments (
    account_id  TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    user_key    TEXT    NOT NULL, -- iam_users.name_key of the user
    policy_arn  TEXT    NOT NULL, -- ARN as first attached; listed in byte order
    policy_key  TEXT    NOT NULL, -- policy_arn folded to lower case; attaching is idempotent on it
    attached_at INTEGER NOT NULL, -- first attachment
    PRIMARY KEY (account_id, user_key, policy_key), -- also serves IdentityPolicies
    -- No cascade: a user with attached policies cannot be deleted.
    FOREIGN KEY (account_id, user_key) REFERENCES iam_users (account_id, name_key)
) STRICT, WITHOUT ROWID;

-- Serves DeletePolicy's "still attached" check and ManagedPolicy.Attachments.
CREATE INDEX iam_user_policy_attachments_by_policy ON iam_user_policy_attachments (account_id, policy_key);

-- Serves DeleteUser's "user still has access keys" check, which matches
-- access_keys.user_name case-insensitively as IAM matches user names.
CREATE INDEX access_keys_by_user_key ON access_keys (account_id, lower(user_name));
