-- 0009_audit: the audit trail, CloudTrail-shaped records in a hash chain
-- (SQLite dialect). Berth keeps the trail in a database file of its own
-- (audit.db in the data directory, opened with this same schema), so audit
-- writes never hold the metadata database's single writer; the tables exist
-- in berth.db too, unused. Times are Unix nanoseconds UTC.

-- audit_records: one row per record, in chain order. hash covers
-- prev_hash, seq and record (see metastore.AuditHash); the other columns
-- are copies of fields of record, for lookups, and are checked against it
-- by `berth admin audit verify`.
CREATE TABLE audit_records (
    seq           INTEGER NOT NULL PRIMARY KEY, -- chain position, from 1 without gaps
    event_time    INTEGER NOT NULL,             -- eventTime
    event_name    TEXT    NOT NULL,             -- eventName, e.g. PutImage
    event_source  TEXT    NOT NULL,             -- eventSource, e.g. ecr.amazonaws.com
    principal_arn TEXT    NOT NULL DEFAULT '',  -- userIdentity.arn
    user_name     TEXT    NOT NULL DEFAULT '',  -- userIdentity.userName
    access_key_id TEXT    NOT NULL DEFAULT '',  -- userIdentity.accessKeyId
    resource_arn  TEXT    NOT NULL DEFAULT '',  -- resources[0].ARN
    repository    TEXT    NOT NULL DEFAULT '',  -- the repository the call concerned
    error_code    TEXT    NOT NULL DEFAULT '',  -- errorCode; '' on success
    record        TEXT    NOT NULL,             -- the record's canonical JSON, as hashed
    prev_hash     TEXT    NOT NULL,             -- hash of the previous record (or the anchor)
    hash          TEXT    NOT NULL              -- hex SHA-256 chain link
) STRICT;

-- Serve lookups by time and retention's scan, and the common filters.
CREATE INDEX audit_records_by_time ON audit_records (event_time);
CREATE INDEX audit_records_by_name ON audit_records (event_name, seq);
CREATE INDEX audit_records_by_principal ON audit_records (principal_arn, seq);
CREATE INDEX audit_records_by_repository ON audit_records (repository, seq);

-- audit_chain: one row, the chain's anchor (the last record retention
-- deleted) and head (the last record appended). Appends update it in the
-- transaction that inserts, so they are serialized.
CREATE TABLE audit_chain (
    id          INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    anchor_seq  INTEGER NOT NULL, -- seq of the last deleted record; 0 = none deleted
    anchor_hash TEXT    NOT NULL, -- its hash; 64 zeros when none
    head_seq    INTEGER NOT NULL, -- seq of the last appended record; 0 = none
    head_hash   TEXT    NOT NULL  -- its hash; the anchor's when none is stored
) STRICT;

INSERT INTO audit_chain (id, anchor_seq, anchor_hash, head_seq, head_hash) VALUES
    (1, 0, '0000000000000000000000000000000000000000000000000000000000000000',
        0, '0000000000000000000000000000000000000000000000000000000000000000');
