-- Conversation server foundation (PostgreSQL). Times are Unix milliseconds.

CREATE TABLE visitors (
    id              TEXT PRIMARY KEY,
    token_hash      BYTEA NOT NULL UNIQUE,
    shop_account_id TEXT,
    nickname        TEXT,
    pii             BYTEA,            -- XChaCha20-Poly1305 sealed JSON (real name, phone, address)
    context         TEXT,            -- JSON: current page, pages viewed, cart
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

CREATE TABLE staff_users (
    id            TEXT PRIMARY KEY,
    username      TEXT NOT NULL UNIQUE,
    display_name  TEXT NOT NULL,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    max_chats     BIGINT NOT NULL,
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    BIGINT NOT NULL
);

CREATE TABLE staff_sessions (
    token_hash BYTEA PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES staff_users(id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE conversations (
    id         TEXT PRIMARY KEY,
    visitor_id TEXT NOT NULL REFERENCES visitors(id),
    channel    TEXT NOT NULL,
    state      TEXT NOT NULL,
    agent_id   TEXT REFERENCES staff_users(id),
    last_seq   BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX conversations_by_state ON conversations(state, updated_at);
CREATE INDEX conversations_by_agent ON conversations(agent_id, state);
CREATE INDEX conversations_by_visitor ON conversations(visitor_id);

-- Every committed event of a conversation, numbered without gaps from 1.
CREATE TABLE events (
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    seq             BIGINT NOT NULL,
    kind            TEXT NOT NULL,   -- message | state_changed
    sender_kind     TEXT NOT NULL,
    sender_id       TEXT,
    client_msg_id   TEXT,
    body            BYTEA NOT NULL,   -- sealed JSON, bound to the conversation id
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, seq)
);
-- The dedup record: a retried client_msg_id finds the message it already created.
CREATE UNIQUE INDEX events_client_msg ON events(conversation_id, sender_id, client_msg_id)
    WHERE client_msg_id IS NOT NULL;

CREATE TABLE read_markers (
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    reader          TEXT NOT NULL,   -- 'buyer' or 'agent:<id>'
    seq             BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, reader)
);

CREATE TABLE attachments (
    id           TEXT PRIMARY KEY,   -- keyed hash of the plaintext
    content_type TEXT NOT NULL,
    size         BIGINT NOT NULL,
    created_at   BIGINT NOT NULL
);

-- Which conversations may see an attachment: only their participants are served it.
CREATE TABLE attachment_links (
    attachment_id   TEXT NOT NULL REFERENCES attachments(id),
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    PRIMARY KEY (attachment_id, conversation_id)
);
