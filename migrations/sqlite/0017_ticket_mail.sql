-- E-mail reminders for tickets: the shop's SMTP server (one row, the password
-- sealed with the data key), each person's notification preferences (the
-- address sealed), and the mails already sent, one per (event, recipient), so a
-- redelivered event sends nothing twice.

CREATE TABLE smtp_settings (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    host            TEXT NOT NULL,
    port            INTEGER NOT NULL,
    tls             TEXT NOT NULL CHECK (tls IN ('none', 'starttls', 'tls')),
    username        TEXT,
    sealed_password BLOB,
    from_address    TEXT NOT NULL,
    enabled         BOOLEAN NOT NULL DEFAULT TRUE,
    updated_by      TEXT,
    updated_at      INTEGER NOT NULL
);

CREATE TABLE notification_prefs (
    staff_id       TEXT PRIMARY KEY REFERENCES staff_users(id) ON DELETE CASCADE,
    sealed_email   BLOB,
    in_app         BOOLEAN NOT NULL DEFAULT TRUE,
    -- JSON object: which events send an e-mail (assigned, buyer_replied,
    -- sla_warning, sla_breach, sla_escalation).
    email_on       TEXT NOT NULL,
    updated_at     INTEGER NOT NULL
);

CREATE TABLE mail_sent (
    event_id     TEXT NOT NULL,
    recipient_id TEXT NOT NULL,
    sent_at      INTEGER NOT NULL,
    PRIMARY KEY (event_id, recipient_id)
);

-- Ticket settings of the shop (one row): how many days after resolution a
-- buyer's reply still reopens a ticket (later ones are refused).
CREATE TABLE ticket_settings (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    reopen_days INTEGER NOT NULL,
    updated_by  TEXT,
    updated_at  INTEGER NOT NULL
);

-- Staff who follow a ticket: they get its reminders like its assignee.
CREATE TABLE ticket_watchers (
    ticket_id TEXT NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    staff_id  TEXT NOT NULL REFERENCES staff_users(id) ON DELETE CASCADE,
    added_by  TEXT,
    added_at  INTEGER NOT NULL,
    PRIMARY KEY (ticket_id, staff_id)
);
CREATE INDEX ticket_watchers_staff ON ticket_watchers (staff_id);

-- The ticket board: overdue and due-soon lists, open tickets by priority.
CREATE INDEX tickets_resolution_due ON tickets (resolution_due_at) WHERE resolution_due_at IS NOT NULL;
CREATE INDEX tickets_state_priority ON tickets (state, priority);
