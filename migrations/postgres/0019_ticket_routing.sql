-- Ticket routing rules (admins): one ordered list, the first matching rule
-- routes a new ticket. Stored as JSON in one row (id 1), replaced whole.
CREATE TABLE ticket_routing_rules (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    rules      TEXT NOT NULL,
    updated_by TEXT,
    updated_at BIGINT NOT NULL
);

-- `bench tickets` (100k tickets): the list pages walk the newest changes
-- first (all, or a department's) and stop at the page's end; the board
-- counts in one pass over a covering index instead of five table scans.
CREATE INDEX tickets_updated ON tickets (updated_at, id);
CREATE INDEX tickets_department_updated ON tickets (department_id, updated_at, id);
CREATE INDEX tickets_board ON tickets (state, department_id, priority, assignee_id, sla_elapsed_ms, sla_resolution_ms);
