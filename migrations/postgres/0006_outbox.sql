-- The committed-event backbone. Every change to a conversation (and ratings,
-- visitor updates...) writes one row here in the same transaction as the
-- change. `position` is global and grows in commit order: writers take a
-- transaction-scoped advisory lock before they draw it, so no position becomes
-- visible before a smaller one. Payloads hold ids and kinds, never message text or PII:
-- readers open the sealed event in `events` when they need the words.
CREATE TABLE outbox (
    position        BIGSERIAL PRIMARY KEY,
    event_id        TEXT NOT NULL UNIQUE,
    kind            TEXT NOT NULL,
    conversation_id TEXT,
    seq             BIGINT,
    payload         TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX outbox_by_conversation ON outbox(conversation_id, position);

-- A durable subscriber's cursor, and which node holds its lease (one node at a
-- time runs a cluster-wide subscriber such as the webhook dispatcher).
CREATE TABLE subscribers (
    name         TEXT PRIMARY KEY,
    position     BIGINT NOT NULL,
    lease_node   TEXT,
    lease_until  BIGINT NOT NULL DEFAULT 0,
    updated_at   BIGINT NOT NULL
);

-- Outbound webhooks (Standard Webhooks 1.0). The signing secret is sealed.
CREATE TABLE webhook_endpoints (
    id              TEXT PRIMARY KEY,
    url             TEXT NOT NULL,
    description     TEXT NOT NULL DEFAULT '',
    event_types     TEXT NOT NULL,          -- JSON array; ["*"] for every event
    sealed_secret   BYTEA NOT NULL,
    enabled         BOOLEAN NOT NULL,
    disabled_reason TEXT,
    since_position  BIGINT NOT NULL,        -- events after this one are sent
    created_by      TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY,
    endpoint_id     TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    event_id        TEXT NOT NULL,
    position        BIGINT NOT NULL,
    conversation_id TEXT,
    status          TEXT NOT NULL,          -- pending, delivered, failed
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_status     INTEGER,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    delivered_at    BIGINT,
    UNIQUE (endpoint_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries(endpoint_id, status, position);

-- API channels: apps and IM bridges post their users' messages with their own
-- key (only its hash is kept) and get replies through the webhooks. A channel
-- may limit agent replies to `reply_limit` within `reply_window_ms` of the
-- user's last message (WeChat customer-service messages: 5 within 48 h).
CREATE TABLE channels (
    id               TEXT PRIMARY KEY,
    name             TEXT NOT NULL,
    key_hash         BYTEA NOT NULL UNIQUE,
    reply_limit      INTEGER NOT NULL,
    reply_window_ms  BIGINT NOT NULL,
    created_by       TEXT NOT NULL,
    created_at       BIGINT NOT NULL
);

-- A channel's user: the visitor they are and their current conversation. The
-- external id is sealed; `external_hash` finds it.
CREATE TABLE channel_users (
    channel_id        TEXT NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
    external_hash     BYTEA NOT NULL,
    sealed_external   BYTEA NOT NULL,
    visitor_id        TEXT NOT NULL,
    conversation_id   TEXT NOT NULL,
    last_inbound_at   BIGINT NOT NULL,
    replies           INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (channel_id, external_hash)
);
CREATE INDEX channel_users_by_conversation ON channel_users(conversation_id);
