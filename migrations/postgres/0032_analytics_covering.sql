-- Reports read a range of days of the rollups, summed per (day, agent,
-- counter) or coarser, and the queue waits of a range of days. Covering
-- indexes in that order let both be read by index-only scans, in order,
-- instead of one heap fetch per row (a 90-day report reads ~230,000 rollup
-- rows at 200,000 conversations a year).
CREATE INDEX analytics_daily_report ON analytics_daily(day, agent_id, counter, channel) INCLUDE (value);
CREATE INDEX analytics_facts_waits ON analytics_facts(day, agent_id, channel) INCLUDE (queue_wait_ms)
    WHERE queue_wait_ms IS NOT NULL;
