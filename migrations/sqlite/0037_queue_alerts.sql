-- Queue alerts (issue 17): a skill group may name how many waiting chats, or
-- how long a wait, calls for a supervisor. The sweeper raises the alert once
-- (alert_since, set by whichever node sees it first) and clears it when the
-- queue is back under both, each with an event.
ALTER TABLE skill_groups ADD COLUMN alert_waiting INTEGER;
ALTER TABLE skill_groups ADD COLUMN alert_wait_ms INTEGER;
ALTER TABLE skill_groups ADD COLUMN alert_since INTEGER;
