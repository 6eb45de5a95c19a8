-- Suggested wordings (issue 13): for a published entry with fewer than three
-- wordings, the local model proposes other ways a buyer would ask; a knowledge
-- manager accepts one (it becomes a similar question of the entry) or rejects
-- it. Decided suggestions stay, so that a rejected wording is never proposed
-- again for its entry.
CREATE TABLE kb_wording_suggestions (
    id          TEXT PRIMARY KEY,
    entry_id    TEXT NOT NULL,
    text        TEXT NOT NULL,
    status      TEXT NOT NULL DEFAULT 'pending',
    created_at  BIGINT NOT NULL,
    decided_at  BIGINT,
    decided_by  TEXT,
    UNIQUE (entry_id, text)
);
CREATE INDEX kb_wording_suggestions_by_status ON kb_wording_suggestions (status, created_at);
-- Which version of an entry the model was last asked about: an entry is asked
-- again only when it changed and still has few wordings.
CREATE TABLE kb_wording_asks (
    entry_id  TEXT PRIMARY KEY,
    version   BIGINT NOT NULL,
    asked_at  BIGINT NOT NULL
);
