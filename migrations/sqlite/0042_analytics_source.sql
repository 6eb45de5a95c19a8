-- Source as a dimension of the conversation reports (issue 17): the rollups
-- are kept apart by how the buyer came (search, ads, recommendation,
-- referral, direct; '' for a chat not opened from a visit of the shop's
-- pages), and each conversation's facts row names it for the queue waits and
-- the export. Rollups written before this count under ''; `xiaoer analytics
-- rebuild` splits them by source from the event log.
CREATE TABLE analytics_daily_by_source (
    day       TEXT NOT NULL,
    channel   TEXT NOT NULL,
    agent_id  TEXT NOT NULL,
    source    TEXT NOT NULL DEFAULT '',
    counter   TEXT NOT NULL,
    value     INTEGER NOT NULL,
    PRIMARY KEY (day, channel, agent_id, source, counter)
);
INSERT INTO analytics_daily_by_source (day, channel, agent_id, source, counter, value)
    SELECT day, channel, agent_id, '', counter, value FROM analytics_daily;
DROP TABLE analytics_daily;
ALTER TABLE analytics_daily_by_source RENAME TO analytics_daily;
CREATE INDEX analytics_daily_by_agent ON analytics_daily(agent_id, day);
CREATE INDEX analytics_daily_report ON analytics_daily(day, agent_id, counter, channel, source, value);

ALTER TABLE analytics_facts ADD COLUMN source TEXT NOT NULL DEFAULT '';
UPDATE analytics_facts SET source = COALESCE(json_extract(facts, '$.source'), '');
DROP INDEX analytics_facts_waits;
CREATE INDEX analytics_facts_waits ON analytics_facts(day, agent_id, channel, source, queue_wait_ms)
    WHERE queue_wait_ms IS NOT NULL;
