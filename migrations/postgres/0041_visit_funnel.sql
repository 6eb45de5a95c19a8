-- The visitor funnel (issue 17): a visit ends half an hour after its last
-- heartbeat (the sweeper writes visit.ended once), a visit names the first chat
-- opened from it, and analytics keeps each visit's tally (folded from its
-- visit.* events, idempotent by position like analytics_facts).
ALTER TABLE visits ADD COLUMN ended_at BIGINT;
ALTER TABLE visits ADD COLUMN conversation_id TEXT;
-- Visits from before the funnel were never counted: they end uncounted.
UPDATE visits SET ended_at = last_seen_at;
CREATE INDEX visits_to_end ON visits (last_seen_at) WHERE ended_at IS NULL;
-- The console shows a chat's visit (its pages, in order, with the time on each).
CREATE INDEX visits_by_conversation ON visits (conversation_id);

CREATE TABLE analytics_visits (
    visit_id      TEXT PRIMARY KEY,
    last_position BIGINT NOT NULL,
    tally         TEXT NOT NULL  -- JSON of domain::funnel::VisitTally
);
