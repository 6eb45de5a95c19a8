-- Conversion (询单转化, issue 17). The analytics subscriber keeps when the
-- buyer of each chat first wrote (the question a conversion counts from); the
-- conversion sweeper asks the shop (the Commerce port) for the orders of the
-- signed-in buyers of recent questions and records here, once per chat, the
-- order that converted it, with its `conversation.converted` event in the same
-- transaction. Times and amounts only: no order number, no account.
ALTER TABLE analytics_facts ADD COLUMN first_buyer_at INTEGER;
CREATE INDEX analytics_facts_inquiries ON analytics_facts(first_buyer_at)
    WHERE first_buyer_at IS NOT NULL;

CREATE TABLE conversions (
    conversation_id TEXT PRIMARY KEY,
    placed_at       INTEGER NOT NULL,
    total_cents     INTEGER NOT NULL,
    created_at      INTEGER NOT NULL
);
