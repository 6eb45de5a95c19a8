-- The local model's draft score of a review, one per review, made in the
-- background while the review waits; the reviewer confirms or overrides it.
CREATE TABLE qa_drafts (
    review_id    TEXT PRIMARY KEY REFERENCES qa_reviews(id),
    status       TEXT NOT NULL,          -- waiting | ready | failed
    items_sealed BYTEA,                  -- sealed JSON [domain::quality::DraftItem] (quotes the chat)
    total        BIGINT,                 -- the draft's score, 0..100
    failures     BIGINT NOT NULL DEFAULT 0,
    next_at      BIGINT NOT NULL,       -- waiting: not taken again before this (a node's lease)
    updated_at   BIGINT NOT NULL
);
CREATE INDEX qa_drafts_waiting ON qa_drafts(status, next_at);
