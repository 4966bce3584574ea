-- 0009_audit: the audit trail, CloudTrail-shaped records in a hash chain
-- (PostgreSQL dialect; same tables and meaning as the SQLite file). Appends
-- from every node lock the audit_chain row (SELECT ... FOR UPDATE, READ
-- COMMITTED) before drawing seq, so the chain never forks. Times are BIGINT
-- Unix nanoseconds UTC.

CREATE TABLE audit_records (
    seq           BIGINT NOT NULL PRIMARY KEY,
    event_time    BIGINT NOT NULL,
    event_name    TEXT   COLLATE "C" NOT NULL,
    event_source  TEXT   COLLATE "C" NOT NULL,
    principal_arn TEXT   COLLATE "C" NOT NULL DEFAULT '',
    user_name     TEXT   COLLATE "C" NOT NULL DEFAULT '',
    access_key_id TEXT   COLLATE "C" NOT NULL DEFAULT '',
    resource_arn  TEXT   COLLATE "C" NOT NULL DEFAULT '',
    repository    TEXT   COLLATE "C" NOT NULL DEFAULT '',
    error_code    TEXT   COLLATE "C" NOT NULL DEFAULT '',
    record        TEXT   NOT NULL,
    prev_hash     TEXT   COLLATE "C" NOT NULL,
    hash          TEXT   COLLATE "C" NOT NULL
);
COMMENT ON TABLE audit_records IS 'The audit trail: one CloudTrail-shaped record per audited call, in chain order; hash covers prev_hash, seq and record (metastore.AuditHash), the other columns are copies of fields of record for lookups, checked against it by berth admin audit verify';
COMMENT ON COLUMN audit_records.seq IS 'chain position, from 1 without gaps';
COMMENT ON COLUMN audit_records.event_time IS 'eventTime, Unix ns UTC';
COMMENT ON COLUMN audit_records.event_name IS 'eventName, e.g. PutImage';
COMMENT ON COLUMN audit_records.event_source IS 'eventSource, e.g. ecr.amazonaws.com';
COMMENT ON COLUMN audit_records.principal_arn IS 'userIdentity.arn; empty when unknown';
COMMENT ON COLUMN audit_records.user_name IS 'userIdentity.userName; empty for the root and anonymous callers';
COMMENT ON COLUMN audit_records.access_key_id IS 'userIdentity.accessKeyId; empty when none';
COMMENT ON COLUMN audit_records.resource_arn IS 'resources[0].ARN; empty when none';
COMMENT ON COLUMN audit_records.repository IS 'the repository the call concerned; empty when none';
COMMENT ON COLUMN audit_records.error_code IS 'errorCode; empty on success';
COMMENT ON COLUMN audit_records.record IS 'the record''s canonical JSON, exactly as hashed';
COMMENT ON COLUMN audit_records.prev_hash IS 'hash of the previous record, or the anchor''s';
COMMENT ON COLUMN audit_records.hash IS 'hex SHA-256 chain link';

CREATE INDEX audit_records_by_time ON audit_records (event_time);
CREATE INDEX audit_records_by_name ON audit_records (event_name, seq);
CREATE INDEX audit_records_by_principal ON audit_records (principal_arn, seq);
CREATE INDEX audit_records_by_repository ON audit_records (repository, seq);

CREATE TABLE audit_chain (
    id          BIGINT NOT NULL PRIMARY KEY CHECK (id = 1),
    anchor_seq  BIGINT NOT NULL,
    anchor_hash TEXT   COLLATE "C" NOT NULL,
    head_seq    BIGINT NOT NULL,
    head_hash   TEXT   COLLATE "C" NOT NULL
);
COMMENT ON TABLE audit_chain IS 'One row: the audit chain''s anchor (the last record retention deleted) and head (the last appended); appends lock it, so they are serialized across nodes';
COMMENT ON COLUMN audit_chain.id IS 'always 1';
COMMENT ON COLUMN audit_chain.anchor_seq IS 'seq of the last deleted record; 0 when none was deleted';
COMMENT ON COLUMN audit_chain.anchor_hash IS 'its hash; 64 zeros when none';
COMMENT ON COLUMN audit_chain.head_seq IS 'seq of the last appended record; 0 when none';
COMMENT ON COLUMN audit_chain.head_hash IS 'its hash; the anchor''s when no record is stored';

INSERT INTO audit_chain (id, anchor_seq, anchor_hash, head_seq, head_hash) VALUES
    (1, 0, '0000000000000000000000000000000000000000000000000000000000000000',
        0, '0000000000000000000000000000000000000000000000000000000000000000');
