-- Admin pages: password resets that force a change, per-language welcome
-- messages, and shop settings that change at run time.

ALTER TABLE staff_users ADD COLUMN must_change_password BOOLEAN NOT NULL DEFAULT FALSE;

-- Welcome messages per scenario and language (zh, en). The old one-language
-- table's texts become the Chinese ones.
CREATE TABLE welcome_texts (
    scenario   TEXT NOT NULL,        -- new_visitor | returning_visitor | out_of_hours | campaign:<code>
    lang       TEXT NOT NULL,        -- zh | en
    text       TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (scenario, lang)
);
INSERT INTO welcome_texts (scenario, lang, text, updated_by, updated_at)
    SELECT scenario, 'zh', text, updated_by, updated_at FROM welcome_messages;
DROP TABLE welcome_messages;

-- One row: the shop's name, service hours and holidays in its time zone. Seeded
-- from the start-up flags on first run; admins change it at run time.
CREATE TABLE shop_settings (
    id                 INTEGER PRIMARY KEY CHECK (id = 1),
    shop_name          TEXT NOT NULL,
    service_hours      TEXT,             -- "09:00-22:00"; NULL: people answer at any hour
    utc_offset_minutes INTEGER NOT NULL,
    holidays           TEXT NOT NULL,    -- JSON array of "YYYY-MM-DD" (local dates, no service)
    updated_by         TEXT,
    updated_at         BIGINT NOT NULL
);
