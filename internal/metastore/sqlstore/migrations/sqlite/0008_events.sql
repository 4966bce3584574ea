-- 0008_events: the registry event outbox, event sinks and deliveries
-- (SQLite dialect).
--
-- The store writes an outbox row in the same transaction as every change
-- that makes an event (an image pushed, a tag or image deleted, ...). The
-- dispatcher, one background job in the deployment, routes each row to the
-- matching sinks of its account as one delivery per sink, and delivers them
-- in order per repository and sink (a stream), at least once. Delivered
-- deliveries are deleted; outbox rows are deleted once nothing is left to
-- deliver and they are older than the retention (found by seq, which times
-- follow). Times are Unix nanoseconds UTC.

-- event_streams: one per repository name that has had an event for a sink;
-- deliveries are ordered within a stream. Streams outlive repositories.
-- (On PostgreSQL, writing an event also locks its stream row so outbox
-- order is commit order within a repository; SQLite's single writer
-- already commits in outbox order, so here the row is made at routing.)
CREATE TABLE event_streams (
    id         INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    account_id TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    repository TEXT    NOT NULL, -- repository name
    UNIQUE (account_id, repository)
) STRICT;

-- event_outbox: the events, in commit order (seq). The row holds the
-- domain facts; the EventBridge JSON is rendered at delivery.
CREATE TABLE event_outbox (
    seq                 INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    id                  TEXT    NOT NULL, -- event UUID (EventBridge "id"); random, so not indexed
    account_id          TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE, -- EventBridge "account"
    repository          TEXT    NOT NULL,             -- repository name when the event happened
    detail_type         TEXT    NOT NULL,             -- EventBridge detail-type, e.g. "ECR Image Action"
    action_type         TEXT    NOT NULL DEFAULT '',  -- PUSH, DELETE, UPDATE_STORAGE_CLASS; '' when none
    result              TEXT    NOT NULL DEFAULT '',  -- SUCCESS or FAILURE
    image_digest        TEXT    NOT NULL DEFAULT '',  -- "sha256:<hex>"; '' when none
    image_tag           TEXT    NOT NULL DEFAULT '',  -- '' when the event concerns no tag
    manifest_media_type TEXT    NOT NULL DEFAULT '',  -- the manifest's media type
    artifact_media_type TEXT    NOT NULL DEFAULT '',  -- artifactType or config media type
    detail              TEXT    NOT NULL DEFAULT '',  -- JSON object of further detail fields; '' when none
    occurred_at         INTEGER NOT NULL,             -- when the change happened (EventBridge "time")
    routed              INTEGER NOT NULL DEFAULT 0 CHECK (routed IN (0, 1)) -- deliveries made for every matching sink
) STRICT;

-- Serves routing: the unrouted events in order.
CREATE INDEX event_outbox_unrouted ON event_outbox (seq) WHERE routed = 0;

-- event_sinks: where an account's events go, with filters.
CREATE TABLE event_sinks (
    id                INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    account_id        TEXT    NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name              TEXT    NOT NULL,             -- unique in the account
    type              TEXT    NOT NULL CHECK (type IN ('webhook', 'nats')),
    url               TEXT    NOT NULL,             -- webhook URL or nats:// server URL
    subject           TEXT    NOT NULL DEFAULT '',  -- NATS subject; '' for webhooks
    secret_ciphertext BLOB    NOT NULL,             -- webhook signing secret sealed by the caller; empty when none
    detail_types      TEXT    NOT NULL DEFAULT '',  -- newline-separated detail-types to keep; '' keeps all
    repository_prefix TEXT    NOT NULL DEFAULT '',  -- keep repositories whose name starts with this; '' keeps all
    timeout           INTEGER NOT NULL,             -- bound of one delivery attempt (nanoseconds)
    max_attempts      INTEGER NOT NULL DEFAULT 0,   -- dead-letter after this many failed attempts; 0 = no limit
    retry_for         INTEGER NOT NULL,             -- dead-letter when still failing this long after the first attempt (nanoseconds)
    created_at        INTEGER NOT NULL,             -- the sink receives events that happen from then on
    UNIQUE (account_id, name)
) STRICT;

-- event_deliveries: one event on its way to one sink. A delivered event's
-- row is deleted; a dead-lettered one stays (state 'dead') until the
-- operator retries or discards it.
CREATE TABLE event_deliveries (
    sink_id          INTEGER NOT NULL REFERENCES event_sinks (id) ON DELETE CASCADE,
    seq              INTEGER NOT NULL REFERENCES event_outbox (seq) ON DELETE CASCADE,
    stream_id        INTEGER NOT NULL,             -- the event's stream: delivered in seq order within it
    state            TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'dead')),
    attempts         INTEGER NOT NULL DEFAULT 0,   -- failed attempts so far
    first_attempt_at INTEGER NOT NULL DEFAULT 0,   -- 0 before the first attempt
    last_attempt_at  INTEGER NOT NULL DEFAULT 0,   -- 0 before the first attempt
    last_error       TEXT    NOT NULL DEFAULT '',  -- why the last attempt failed
    dead_at          INTEGER NOT NULL DEFAULT 0,   -- when it was dead-lettered; 0 unless dead
    PRIMARY KEY (sink_id, seq)
) STRICT, WITHOUT ROWID;

-- Serves a stream's pending deliveries in order, and dead-letter listings.
CREATE INDEX event_deliveries_by_stream ON event_deliveries (sink_id, stream_id, state, seq);

-- Serves retention ("is anything left to deliver for this event").
CREATE INDEX event_deliveries_by_seq ON event_deliveries (seq);

-- event_queue: the streams of a sink that have pending deliveries, and when
-- the first of them may be attempted. A stream whose head fails waits here
-- (backoff) while the others proceed.
CREATE TABLE event_queue (
    sink_id   INTEGER NOT NULL REFERENCES event_sinks (id) ON DELETE CASCADE,
    stream_id INTEGER NOT NULL REFERENCES event_streams (id) ON DELETE CASCADE,
    retry_at  INTEGER NOT NULL DEFAULT 0, -- the stream's head may be attempted from this time
    PRIMARY KEY (sink_id, stream_id)
) STRICT, WITHOUT ROWID;

-- Serves the dispatcher's "which streams are due".
CREATE INDEX event_queue_due ON event_queue (retry_at);
