-- Saved views of the ticket list: a person keeps the list's filters under a
-- name of their own (per person; nobody else sees them). The filters are
-- states, a department, an assignee, a priority and a type: ids and words of
-- the ticket scheme, never a buyer's.
CREATE TABLE ticket_views (
    id         TEXT PRIMARY KEY,
    staff_id   TEXT NOT NULL REFERENCES staff_users(id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    filters    TEXT NOT NULL,   -- JSON: {"state":"open,pending","department_id":...}
    created_at INTEGER NOT NULL,
    UNIQUE (staff_id, name)
);
