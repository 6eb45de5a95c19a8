-- The conversation export (issue 17) pages through a range of days by
-- (day, conversation id): each page starts where the last ended.
CREATE INDEX analytics_facts_by_day_id ON analytics_facts (day, conversation_id);
