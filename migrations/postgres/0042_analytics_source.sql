-- Source as a dimension of the conversation reports (issue 17): the rollups
-- are kept apart by how the buyer came (search, ads, recommendation,
-- referral, direct; '' for a chat not opened from a visit of the shop's
-- pages), and each conversation's facts row names it for the queue waits and
-- the export. Rollups written before this count under ''; `xiaoer analytics
-- rebuild` splits them by source from the event log.
ALTER TABLE analytics_daily ADD COLUMN source TEXT NOT NULL DEFAULT '';
ALTER TABLE analytics_daily DROP CONSTRAINT analytics_daily_pkey;
ALTER TABLE analytics_daily ADD PRIMARY KEY (day, channel, agent_id, source, counter);
DROP INDEX analytics_daily_report;
CREATE INDEX analytics_daily_report ON analytics_daily(day, agent_id, counter, channel, source) INCLUDE (value);

ALTER TABLE analytics_facts ADD COLUMN source TEXT NOT NULL DEFAULT '';
UPDATE analytics_facts SET source = COALESCE(facts::jsonb ->> 'source', '');
DROP INDEX analytics_facts_waits;
CREATE INDEX analytics_facts_waits ON analytics_facts(day, agent_id, channel, source) INCLUDE (queue_wait_ms)
    WHERE queue_wait_ms IS NOT NULL;
