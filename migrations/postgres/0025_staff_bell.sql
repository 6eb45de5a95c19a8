-- The console bell: one row per ticket reminder a person gets in the app
-- (assigned to me, buyer replied, SLA warning, breach, escalation), written by
-- the reminder subscribers once per (event, person). It holds the ticket's id
-- and number, never its words.
CREATE TABLE staff_notifications (
    id            TEXT PRIMARY KEY,
    staff_id      TEXT NOT NULL REFERENCES staff_users(id) ON DELETE CASCADE,
    event_id      TEXT NOT NULL,
    kind          TEXT NOT NULL,   -- assigned | buyer_replied | sla_warning | sla_breach | sla_escalation
    ticket_id     TEXT NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    ticket_number TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    read_at       BIGINT,
    UNIQUE (event_id, staff_id)
);
CREATE INDEX staff_notifications_mine ON staff_notifications (staff_id, created_at);
