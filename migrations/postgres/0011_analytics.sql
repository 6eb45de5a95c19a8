-- Analytics (issue 17). The analytics subscriber folds each conversation's
-- events into one facts row (JSON, kept for drill-down) and keeps the daily
-- rollups in step: when a conversation's facts change, its old contribution
-- is taken out of its rollup row and the new one added, in one transaction.
-- `last_position` is the outbox position of the last event folded in: an
-- event at or below it was applied already (re-deliveries change nothing).
CREATE TABLE analytics_facts (
    conversation_id TEXT PRIMARY KEY,
    day             TEXT NOT NULL,          -- shop-local day the chat started
    channel         TEXT NOT NULL,
    agent_id        TEXT NOT NULL,          -- the agent who had it last; '' for none
    queue_wait_ms   BIGINT,                 -- hand-off to first assignment (percentiles)
    last_position   BIGINT NOT NULL,
    facts           TEXT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX analytics_facts_by_day ON analytics_facts(day, agent_id);

-- Daily rollups: one counter per (shop-local day, channel, agent, counter).
-- Every published metric is a sum or a ratio of these (src/domain/analytics.rs).
CREATE TABLE analytics_daily (
    day       TEXT NOT NULL,
    channel   TEXT NOT NULL,
    agent_id  TEXT NOT NULL,
    counter   TEXT NOT NULL,
    value     BIGINT NOT NULL,
    PRIMARY KEY (day, channel, agent_id, counter)
);
CREATE INDEX analytics_daily_by_agent ON analytics_daily(agent_id, day);

-- The buyer's satisfaction rating of a finished conversation, once.
CREATE TABLE csat_ratings (
    conversation_id TEXT PRIMARY KEY REFERENCES conversations(id),
    stars           INTEGER NOT NULL,
    tags            TEXT NOT NULL,          -- JSON array
    comment         TEXT,
    created_at      BIGINT NOT NULL
);
