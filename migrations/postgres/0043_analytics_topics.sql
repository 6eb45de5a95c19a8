-- Intent, category and product as dimensions of the conversation reports
-- (issue 17): what a chat was about, as `conversation.classified` tells it
-- (the bot's intake intent or 'question' / 'human', the category of the
-- knowledge-base entry it answered from, the product of that entry or of a
-- product card). The conversation counters again, once per kind, per
-- shop-local day and topic ('' while not known, so that each kind adds up to
-- every chat); only a report by intent, category or product reads them.
-- Shop-wide: kept apart by agent and channel too, a product's rows would be
-- about as many as its chats (a year of 300 products and 50 agents is mostly
-- one chat per day, agent and product). Counters named 'name:value' (the
-- funnel's, the campaigns', the hand-off reasons') are not kept here.
-- Rollups from before count under '' of every kind.
CREATE TABLE analytics_topics (
    day       TEXT NOT NULL,
    kind      TEXT NOT NULL,
    topic     TEXT NOT NULL,
    counter   TEXT NOT NULL,
    value     BIGINT NOT NULL,
    PRIMARY KEY (kind, day, topic, counter)
);
INSERT INTO analytics_topics (day, kind, topic, counter, value)
    SELECT d.day, k.kind, '', d.counter, SUM(d.value)
    FROM analytics_daily d
    CROSS JOIN (SELECT 'intent' AS kind UNION ALL SELECT 'category' UNION ALL SELECT 'product') k
    WHERE d.counter NOT LIKE '%:%'
    GROUP BY d.day, k.kind, d.counter;
CREATE INDEX analytics_topics_report ON analytics_topics(kind, day, topic, counter) INCLUDE (value);
