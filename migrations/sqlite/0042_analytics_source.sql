-- Source as a dimension of the conversation reports (issue 17): the rollups
-- again, kept apart by how the buyer came (search, ads, recommendation,
-- referral, direct; '' for a chat not opened from a visit of the shop's
-- pages). Only a report by or of a source reads them: the others read
-- analytics_daily, which splitting by source would make several times larger
-- (a day's chats of one agent and channel come from up to six sources). Both
-- are moved by the same deltas in the same transaction. Rollups from before
-- this count under ''; `xiaoer analytics rebuild` splits them by source.
-- Each conversation's facts row names its source for the queue waits and the
-- export.
CREATE TABLE analytics_daily_source (
    day       TEXT NOT NULL,
    channel   TEXT NOT NULL,
    agent_id  TEXT NOT NULL,
    source    TEXT NOT NULL,
    counter   TEXT NOT NULL,
    value     INTEGER NOT NULL,
    PRIMARY KEY (day, channel, agent_id, source, counter)
);
INSERT INTO analytics_daily_source (day, channel, agent_id, source, counter, value)
    SELECT day, channel, agent_id, '', counter, value FROM analytics_daily;
CREATE INDEX analytics_daily_source_report
    ON analytics_daily_source(day, source, agent_id, counter, channel, value);

ALTER TABLE analytics_facts ADD COLUMN source TEXT NOT NULL DEFAULT '';
UPDATE analytics_facts SET source = COALESCE(json_extract(facts, '$.source'), '');
DROP INDEX analytics_facts_waits;
CREATE INDEX analytics_facts_waits ON analytics_facts(day, agent_id, channel, source, queue_wait_ms)
    WHERE queue_wait_ms IS NOT NULL;

-- Hour of the day as a dimension (issue 17): when chats arrive. The
-- conversations, engaged chats and hand-offs again, per shop-local hour the
-- conversation started ('00'..'23'); only a report by hour reads them. Facts
-- from before carry no hour: `xiaoer analytics rebuild` fills them in.
CREATE TABLE analytics_hourly (
    day       TEXT NOT NULL,
    channel   TEXT NOT NULL,
    agent_id  TEXT NOT NULL,
    hour      TEXT NOT NULL,
    counter   TEXT NOT NULL,
    value     INTEGER NOT NULL,
    PRIMARY KEY (day, channel, agent_id, hour, counter)
);
CREATE INDEX analytics_hourly_report ON analytics_hourly(day, hour, agent_id, counter, channel, value);
