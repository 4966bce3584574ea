-- 0008_events: the registry event outbox, event sinks and deliveries
-- (PostgreSQL dialect; same tables and meaning as the SQLite file).
--
-- The store writes an outbox row in the same transaction as every change
-- that makes an event (an image pushed, a tag or image deleted, ...). The
-- dispatcher, one background job in the deployment, routes each row to the
-- matching sinks of its account as one delivery per sink, and delivers them
-- in order per repository and sink (a stream), at least once. Delivered
-- deliveries are deleted; outbox rows are deleted once nothing is left to
-- deliver and they are older than the retention (found by seq, which times
-- follow). Times are BIGINT Unix nanoseconds UTC.

-- event_streams: one per repository name that has had an event for a sink;
-- deliveries are ordered within a stream. Writing an event first takes a
-- transaction-scoped advisory lock on the repository's stream (held until
-- commit), so outbox order (seq, drawn after the lock) is commit order
-- within a repository. Streams outlive repositories.
CREATE TABLE event_streams (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id TEXT   NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    repository TEXT   COLLATE "C" NOT NULL, -- repository name
    UNIQUE (account_id, repository)
);

-- event_outbox: the events, in commit order (seq). The row holds the
-- domain facts; the EventBridge JSON is rendered at delivery.
CREATE TABLE event_outbox (
    seq                 BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id                  TEXT   NOT NULL, -- event UUID (EventBridge "id"); random, so not indexed
    account_id          TEXT   NOT NULL REFERENCES accounts (id) ON DELETE CASCADE, -- EventBridge "account"
    repository          TEXT   COLLATE "C" NOT NULL,  -- repository name when the event happened
    detail_type         TEXT   NOT NULL,              -- EventBridge detail-type, e.g. 'ECR Image Action'
    action_type         TEXT   NOT NULL DEFAULT '',   -- PUSH, DELETE, UPDATE_STORAGE_CLASS; '' when none
    result              TEXT   NOT NULL DEFAULT '',   -- SUCCESS or FAILURE
    image_digest        TEXT   NOT NULL DEFAULT '',   -- 'sha256:<hex>'; '' when none
    image_tag           TEXT   NOT NULL DEFAULT '',   -- '' when the event concerns no tag
    manifest_media_type TEXT   NOT NULL DEFAULT '',   -- the manifest's media type
    artifact_media_type TEXT   NOT NULL DEFAULT '',   -- artifactType or config media type
    detail              TEXT   NOT NULL DEFAULT '',   -- JSON object of further detail fields; '' when none
    occurred_at         BIGINT NOT NULL,              -- when the change happened (EventBridge "time")
    routed              INTEGER NOT NULL DEFAULT 0 CHECK (routed IN (0, 1)) -- deliveries made for every matching sink
);

-- Serves routing: the unrouted events in order.
CREATE INDEX event_outbox_unrouted ON event_outbox (seq) WHERE routed = 0;

-- event_sinks: where an account's events go, with filters.
CREATE TABLE event_sinks (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account_id        TEXT   NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    name              TEXT   COLLATE "C" NOT NULL,  -- unique in the account
    type              TEXT   NOT NULL CHECK (type IN ('webhook', 'nats')),
    url               TEXT   NOT NULL,              -- webhook URL or nats:// server URL
    subject           TEXT   NOT NULL DEFAULT '',   -- NATS subject; '' for webhooks
    secret_ciphertext BYTEA  NOT NULL,              -- webhook signing secret sealed by the caller; empty when none
    detail_types      TEXT   NOT NULL DEFAULT '',   -- newline-separated detail-types to keep; '' keeps all
    repository_prefix TEXT   NOT NULL DEFAULT '',   -- keep repositories whose name starts with this; '' keeps all
    timeout           BIGINT NOT NULL,              -- bound of one delivery attempt (nanoseconds)
    max_attempts      BIGINT NOT NULL DEFAULT 0,    -- dead-letter after this many failed attempts; 0 = no limit
    retry_for         BIGINT NOT NULL,              -- dead-letter when still failing this long after the first attempt (nanoseconds)
    created_at        BIGINT NOT NULL,              -- the sink receives events that happen from then on
    UNIQUE (account_id, name)
);

-- event_deliveries: one event on its way to one sink. A delivered event's
-- row is deleted; a dead-lettered one stays (state 'dead') until the
-- operator retries or discards it.
CREATE TABLE event_deliveries (
    sink_id          BIGINT NOT NULL REFERENCES event_sinks (id) ON DELETE CASCADE,
    seq              BIGINT NOT NULL REFERENCES event_outbox (seq) ON DELETE CASCADE,
    stream_id        BIGINT NOT NULL,              -- the event's stream: delivered in seq order within it
    state            TEXT   NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'dead')),
    attempts         BIGINT NOT NULL DEFAULT 0,    -- failed attempts so far
    first_attempt_at BIGINT NOT NULL DEFAULT 0,    -- 0 before the first attempt
    last_attempt_at  BIGINT NOT NULL DEFAULT 0,    -- 0 before the first attempt
    last_error       TEXT   NOT NULL DEFAULT '',   -- why the last attempt failed
    dead_at          BIGINT NOT NULL DEFAULT 0,    -- when it was dead-lettered; 0 unless dead
    PRIMARY KEY (sink_id, seq)
);

-- Serves a stream's pending deliveries in order, and dead-letter listings.
CREATE INDEX event_deliveries_by_stream ON event_deliveries (sink_id, stream_id, state, seq);

-- Serves retention ("is anything left to deliver for this event").
CREATE INDEX event_deliveries_by_seq ON event_deliveries (seq);

-- event_queue: the streams of a sink that have pending deliveries, and when
-- the first of them may be attempted. A stream whose head fails waits here
-- (backoff) while the others proceed.
CREATE TABLE event_queue (
    sink_id   BIGINT NOT NULL REFERENCES event_sinks (id) ON DELETE CASCADE,
    stream_id BIGINT NOT NULL REFERENCES event_streams (id) ON DELETE CASCADE,
    retry_at  BIGINT NOT NULL DEFAULT 0, -- the stream's head may be attempted from this time
    PRIMARY KEY (sink_id, stream_id)
);

-- Serves the dispatcher's "which streams are due".
CREATE INDEX event_queue_due ON event_queue (retry_at);

COMMENT ON TABLE event_streams IS 'one per repository name that has had an event for a sink; deliveries are ordered within a stream. Writing an event first takes a transaction-scoped advisory lock on the repository''s stream (held until commit), so outbox order (seq, drawn after the lock) is commit order within a repository. Streams outlive repositories.';
COMMENT ON COLUMN event_streams.id IS 'stream id';
COMMENT ON COLUMN event_streams.account_id IS 'the account whose repository this is';
COMMENT ON COLUMN event_streams.repository IS 'repository name';
COMMENT ON TABLE event_outbox IS 'the events, in commit order (seq). The row holds the domain facts; the EventBridge JSON is rendered at delivery.';
COMMENT ON COLUMN event_outbox.seq IS 'outbox order: commit order within a repository';
COMMENT ON COLUMN event_outbox.id IS 'event UUID (EventBridge "id"); random, so not indexed';
COMMENT ON COLUMN event_outbox.account_id IS 'EventBridge "account"';
COMMENT ON COLUMN event_outbox.repository IS 'repository name when the event happened';
COMMENT ON COLUMN event_outbox.detail_type IS 'EventBridge detail-type, e.g. ECR Image Action';
COMMENT ON COLUMN event_outbox.action_type IS 'PUSH, DELETE, UPDATE_STORAGE_CLASS; empty when none';
COMMENT ON COLUMN event_outbox.result IS 'SUCCESS or FAILURE';
COMMENT ON COLUMN event_outbox.image_digest IS 'sha256:<hex>; empty when none';
COMMENT ON COLUMN event_outbox.image_tag IS 'empty when the event concerns no tag';
COMMENT ON COLUMN event_outbox.manifest_media_type IS 'the media type of the manifest';
COMMENT ON COLUMN event_outbox.artifact_media_type IS 'artifactType or config media type';
COMMENT ON COLUMN event_outbox.detail IS 'JSON object of further detail fields; empty when none';
COMMENT ON COLUMN event_outbox.occurred_at IS 'when the change happened (EventBridge "time")';
COMMENT ON COLUMN event_outbox.routed IS 'deliveries made for every matching sink';
COMMENT ON TABLE event_sinks IS 'where an account''s events go, with filters.';
COMMENT ON COLUMN event_sinks.id IS 'sink id';
COMMENT ON COLUMN event_sinks.account_id IS 'the account whose events the sink receives';
COMMENT ON COLUMN event_sinks.name IS 'unique in the account';
COMMENT ON COLUMN event_sinks.type IS 'webhook or nats';
COMMENT ON COLUMN event_sinks.url IS 'webhook URL or nats:// server URL';
COMMENT ON COLUMN event_sinks.subject IS 'NATS subject; empty for webhooks';
COMMENT ON COLUMN event_sinks.secret_ciphertext IS 'webhook signing secret sealed by the caller; empty when none';
COMMENT ON COLUMN event_sinks.detail_types IS 'newline-separated detail-types to keep; empty keeps all';
COMMENT ON COLUMN event_sinks.repository_prefix IS 'keep repositories whose name starts with this; empty keeps all';
COMMENT ON COLUMN event_sinks.timeout IS 'bound of one delivery attempt (nanoseconds)';
COMMENT ON COLUMN event_sinks.max_attempts IS 'dead-letter after this many failed attempts; 0 = no limit';
COMMENT ON COLUMN event_sinks.retry_for IS 'dead-letter when still failing this long after the first attempt (nanoseconds)';
COMMENT ON COLUMN event_sinks.created_at IS 'the sink receives events that happen from then on';
COMMENT ON TABLE event_deliveries IS 'one event on its way to one sink. A delivered event''s row is deleted; a dead-lettered one stays (state ''dead'') until the operator retries or discards it.';
COMMENT ON COLUMN event_deliveries.sink_id IS 'the sink the event goes to';
COMMENT ON COLUMN event_deliveries.seq IS 'the event (event_outbox.seq)';
COMMENT ON COLUMN event_deliveries.stream_id IS 'the events stream: delivered in seq order within it';
COMMENT ON COLUMN event_deliveries.state IS 'pending, or dead (dead-lettered)';
COMMENT ON COLUMN event_deliveries.attempts IS 'failed attempts so far';
COMMENT ON COLUMN event_deliveries.first_attempt_at IS '0 before the first attempt';
COMMENT ON COLUMN event_deliveries.last_attempt_at IS '0 before the first attempt';
COMMENT ON COLUMN event_deliveries.last_error IS 'why the last attempt failed';
COMMENT ON COLUMN event_deliveries.dead_at IS 'when it was dead-lettered; 0 unless dead';
COMMENT ON TABLE event_queue IS 'the streams of a sink that have pending deliveries, and when the first of them may be attempted. A stream whose head fails waits here (backoff) while the others proceed.';
COMMENT ON COLUMN event_queue.sink_id IS 'the sink';
COMMENT ON COLUMN event_queue.stream_id IS 'the stream with pending deliveries for the sink';
COMMENT ON COLUMN event_queue.retry_at IS 'the streams head may be attempted from this time';
