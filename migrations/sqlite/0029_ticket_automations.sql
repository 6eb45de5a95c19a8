-- Ticket automations (admins; issue 16): "when EVENT and CONDITIONS then
-- ACTIONS", run in position order on committed ticket events by a cluster
-- subscriber. The rule (name, enabled, event, when, then) is JSON.
CREATE TABLE ticket_automations (
    id         TEXT PRIMARY KEY,
    position   INTEGER NOT NULL,
    rule       TEXT NOT NULL,
    created_by TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- One row per (event, rule) that ran, written in the same transaction as
-- what the rule did (the ticket, its history, its events, its webhook
-- delivery): a redelivered event, on this node or another, finds it and
-- applies nothing twice.
CREATE TABLE ticket_automation_runs (
    event_id  TEXT NOT NULL,
    rule_id   TEXT NOT NULL,
    ticket_id TEXT NOT NULL,
    ran_at    INTEGER NOT NULL,
    PRIMARY KEY (event_id, rule_id)
);
