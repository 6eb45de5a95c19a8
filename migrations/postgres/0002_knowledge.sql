-- Knowledge base (PostgreSQL). Times are Unix milliseconds.

CREATE TABLE kb_categories (
    path       TEXT PRIMARY KEY,          -- levels separated by '/'
    created_at BIGINT NOT NULL
);

CREATE TABLE kb_entries (
    id              TEXT PRIMARY KEY,
    kind            TEXT NOT NULL,        -- faq | article
    status          TEXT NOT NULL,        -- draft | published | archived
    version         BIGINT NOT NULL,     -- latest version in kb_versions
    content         TEXT NOT NULL,        -- JSON EntryContent of that version
    content_hash    TEXT NOT NULL,
    question        TEXT NOT NULL,        -- copy of the standard question, for listing
    category        TEXT,
    locale          TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    updated_by      TEXT NOT NULL,
    times_retrieved BIGINT NOT NULL DEFAULT 0,
    times_answered  BIGINT NOT NULL DEFAULT 0,
    helpful         BIGINT NOT NULL DEFAULT 0,
    unhelpful       BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX kb_entries_status ON kb_entries (status, category);

CREATE TABLE kb_versions (
    entry_id   TEXT NOT NULL REFERENCES kb_entries (id) ON DELETE CASCADE,
    version    BIGINT NOT NULL,
    content    TEXT NOT NULL,
    author     TEXT NOT NULL,
    note       TEXT NOT NULL,             -- created | edited | imported | rolled back to N
    created_at BIGINT NOT NULL,
    PRIMARY KEY (entry_id, version)
);
