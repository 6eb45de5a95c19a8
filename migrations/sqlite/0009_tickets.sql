-- Tickets (工单): departments with members, ticket types with their required
-- custom fields and SLA policies, business-calendar days, the tickets, their
-- history and their comments. Times are Unix milliseconds.

CREATE TABLE ticket_departments (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    lead_id    TEXT REFERENCES staff_users(id),
    created_at INTEGER NOT NULL
);

CREATE TABLE ticket_department_members (
    department_id TEXT NOT NULL REFERENCES ticket_departments(id) ON DELETE CASCADE,
    staff_id      TEXT NOT NULL REFERENCES staff_users(id) ON DELETE CASCADE,
    PRIMARY KEY (department_id, staff_id)
);
CREATE INDEX ticket_department_members_staff ON ticket_department_members (staff_id);

CREATE TABLE ticket_types (
    key             TEXT PRIMARY KEY,   -- logistics, warranty, refund ...
    name            TEXT NOT NULL,
    required_fields TEXT NOT NULL,      -- JSON array of custom field names
    created_at      INTEGER NOT NULL
);

-- Targets in business minutes per type and priority (a missing row: the
-- priority's built-in default).
CREATE TABLE ticket_sla_policies (
    type_key               TEXT NOT NULL REFERENCES ticket_types(key) ON DELETE CASCADE,
    priority               TEXT NOT NULL,  -- low | normal | high | urgent
    first_response_minutes INTEGER NOT NULL,
    resolution_minutes     INTEGER NOT NULL,
    PRIMARY KEY (type_key, priority)
);

-- Local dates that change the working week: public holidays and make-up
-- working days (调休). Weekends and the shop settings' holidays are off too.
CREATE TABLE business_days (
    day  TEXT PRIMARY KEY,                  -- YYYY-MM-DD, the shop's own date
    kind TEXT NOT NULL CHECK (kind IN ('holiday', 'workday'))
);

-- The running count behind numbers like T20261130-0001, per local day.
CREATE TABLE ticket_counters (
    day  TEXT PRIMARY KEY,
    last INTEGER NOT NULL
);

CREATE TABLE tickets (
    id                 TEXT PRIMARY KEY,
    number             TEXT NOT NULL UNIQUE,
    type_key           TEXT NOT NULL REFERENCES ticket_types(key),
    category           TEXT,
    priority           TEXT NOT NULL,
    department_id      TEXT REFERENCES ticket_departments(id),
    assignee_id        TEXT REFERENCES staff_users(id),
    visitor_id         TEXT REFERENCES visitors(id),
    conversation_id    TEXT,
    order_number       TEXT,
    title              TEXT NOT NULL,
    description        TEXT NOT NULL,
    custom_fields      TEXT NOT NULL,     -- JSON object of texts
    tags               TEXT NOT NULL,     -- JSON array
    state              TEXT NOT NULL,     -- new | open | pending | on_hold | resolved | closed
    status_text        TEXT,              -- what the buyer reads; NULL: the state's default
    source             TEXT NOT NULL,     -- chat | manual | out_of_hours
    version            INTEGER NOT NULL,  -- bumped by every change (expected_version)
    sla_first_response_ms INTEGER NOT NULL,
    sla_resolution_ms     INTEGER NOT NULL,
    sla_elapsed_ms        INTEGER NOT NULL,
    sla_running_since     INTEGER,
    first_responded_at    INTEGER,
    escalation            TEXT NOT NULL,  -- none | warning | breached | supervisor
    first_response_due_at INTEGER,
    resolution_due_at     INTEGER,
    created_by         TEXT,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    resolved_at        INTEGER
);
CREATE INDEX tickets_state_updated ON tickets (state, updated_at);
CREATE INDEX tickets_department_state ON tickets (department_id, state);
CREATE INDEX tickets_assignee_state ON tickets (assignee_id, state);
CREATE INDEX tickets_visitor ON tickets (visitor_id, updated_at);
CREATE INDEX tickets_conversation ON tickets (conversation_id);
CREATE INDEX tickets_running_sla ON tickets (sla_running_since) WHERE sla_running_since IS NOT NULL;

-- The history: every change with its author and time.
CREATE TABLE ticket_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    ticket_id   TEXT NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    kind        TEXT NOT NULL,            -- created | updated | state_changed | commented | escalated
    author_kind TEXT NOT NULL,            -- staff | buyer | system
    author_id   TEXT,
    detail      TEXT NOT NULL,            -- JSON
    created_at  INTEGER NOT NULL
);
CREATE INDEX ticket_events_ticket ON ticket_events (ticket_id, id);

CREATE TABLE ticket_comments (
    id          TEXT PRIMARY KEY,
    ticket_id   TEXT NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    visibility  TEXT NOT NULL CHECK (visibility IN ('internal', 'public')),
    author_kind TEXT NOT NULL,            -- staff | buyer | bot
    author_id   TEXT,
    body        TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX ticket_comments_ticket ON ticket_comments (ticket_id, created_at);

-- Every shop starts with one general type without required fields.
INSERT INTO ticket_types (key, name, required_fields, created_at) VALUES ('general', '一般 General', '[]', 0);
