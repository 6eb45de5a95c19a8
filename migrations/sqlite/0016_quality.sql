-- Quality inspection (质检, issue 17). A scheme holds a rubric (JSON of
-- domain::quality::Rubric); a plan holds sampling rules (JSON) and a seed, so
-- running it over the same days picks the same conversations. A review is one
-- conversation scored against one scheme: pending, scored, appealed, settled.
-- Reviewer comments and appeal reasons may quote the buyer: sealed with the
-- data key (AAD: the review id), never in clear.
CREATE TABLE qa_schemes (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    rubric      TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE qa_plans (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    scheme_id   TEXT NOT NULL REFERENCES qa_schemes(id),
    rules       TEXT NOT NULL,
    seed        INTEGER NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE qa_reviews (
    id              TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    scheme_id       TEXT NOT NULL REFERENCES qa_schemes(id),
    plan_id         TEXT NOT NULL,
    agent_id        TEXT NOT NULL,
    day             TEXT NOT NULL,          -- the conversation's shop-local day
    reason          TEXT NOT NULL,          -- the sampling rule that picked it
    status          TEXT NOT NULL,          -- pending | scored | appealed | settled
    scores          TEXT,                   -- JSON {item key: points}
    total           INTEGER,                -- 0..100
    comment_sealed  BLOB,
    reviewer_id     TEXT,
    scored_at       INTEGER,
    appeal_sealed   BLOB,
    appealed_at     INTEGER,
    outcome         TEXT,                   -- upheld | revised
    settled_by      TEXT,
    settled_at      INTEGER,
    created_at      INTEGER NOT NULL,
    UNIQUE (conversation_id, scheme_id)
);
CREATE INDEX qa_reviews_by_agent ON qa_reviews(agent_id, status);
CREATE INDEX qa_reviews_by_status ON qa_reviews(status, created_at);
