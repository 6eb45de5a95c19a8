-- The ticket board's ageing bands count the active tickets by when they were
-- opened: a partial index over just those keeps the count off the closed ones.
CREATE INDEX tickets_active_created ON tickets (created_at) WHERE state NOT IN ('resolved', 'closed');
