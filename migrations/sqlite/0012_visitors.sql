-- Who is on the shop now: visits (one browser tab session of the shop's pages,
-- kept alive by the widget's heartbeat), proactive invitation rules, and the
-- invitations shown to visitors (by a rule or by an agent) with their outcome.

CREATE TABLE visits (
    id           TEXT PRIMARY KEY,
    key_hash     BLOB NOT NULL UNIQUE,   -- the visit key the shop page holds, hashed
    browser_id   TEXT NOT NULL,          -- the shop page's long-lived browser id (returning visitors)
    visitor_id   TEXT REFERENCES visitors(id), -- once the visitor opened the chat
    is_returning BOOLEAN NOT NULL,
    started_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    state        TEXT NOT NULL           -- JSON: pages, source, UTM, cart, member level, tags
);
CREATE INDEX visits_by_last_seen ON visits (last_seen_at);
CREATE INDEX visits_by_browser ON visits (browser_id, started_at);

CREATE TABLE invitation_rules (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    enabled    BOOLEAN NOT NULL,
    priority   INTEGER NOT NULL,
    rule       TEXT NOT NULL,             -- JSON: conditions, action, caps (parsed before storing)
    created_by TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE invitations (
    id              TEXT PRIMARY KEY,
    visit_id        TEXT NOT NULL REFERENCES visits(id),
    browser_id      TEXT NOT NULL,
    rule_id         TEXT,                 -- NULL: an agent's invitation
    agent_id        TEXT REFERENCES staff_users(id),
    greeting        TEXT NOT NULL,
    status          TEXT NOT NULL,        -- pending | shown | accepted | declined
    conversation_id TEXT,
    created_at      INTEGER NOT NULL,
    shown_at        INTEGER,
    answered_at     INTEGER
);
CREATE INDEX invitations_by_visit ON invitations (visit_id, created_at);
CREATE INDEX invitations_by_browser ON invitations (browser_id, created_at);
CREATE INDEX invitations_by_rule ON invitations (rule_id, status);
