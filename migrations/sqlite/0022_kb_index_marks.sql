-- What the vector index durably holds: one row per entry whose points are in the
-- index, with the content hash they were made from. A row is written only after
-- the index has flushed the entry's points, and removed only after their removal
-- was flushed, so after a crash at any step the start-up check finds every entry
-- whose published content and mark differ and repairs just those
-- (services/knowledge/indexing.rs, `repair_index`).
CREATE TABLE kb_index_marks (
    entry_id TEXT PRIMARY KEY,
    content_hash TEXT NOT NULL,
    marked_at BIGINT NOT NULL
);
