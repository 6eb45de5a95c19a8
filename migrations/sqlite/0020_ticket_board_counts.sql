-- The ticket board as running counts (`bench tickets`: grouping 100k tickets
-- on every board read missed its 100 ms p99). One row per (state, department,
-- priority, assignee) with its tickets and those within their resolution
-- target; '' stands for no department or no assignee (a key column cannot be
-- NULL). Triggers keep it in the transaction of every ticket insert, update
-- (a merge is two) and delete: the old group -1, the new group +1. Groups that
-- fall to zero stay (the board reads only rows above zero).
CREATE TABLE ticket_board_counts (
    state         TEXT NOT NULL,
    department_id TEXT NOT NULL,
    priority      TEXT NOT NULL,
    assignee_id   TEXT NOT NULL,
    tickets       INTEGER NOT NULL,
    in_time       INTEGER NOT NULL,
    PRIMARY KEY (state, department_id, priority, assignee_id)
);

INSERT INTO ticket_board_counts (state, department_id, priority, assignee_id, tickets, in_time)
SELECT state, COALESCE(department_id, ''), priority, COALESCE(assignee_id, ''), COUNT(*),
       SUM(CASE WHEN sla_elapsed_ms <= sla_resolution_ms THEN 1 ELSE 0 END)
FROM tickets GROUP BY state, COALESCE(department_id, ''), priority, COALESCE(assignee_id, '');

CREATE TRIGGER tickets_board_insert AFTER INSERT ON tickets
BEGIN
    INSERT INTO ticket_board_counts (state, department_id, priority, assignee_id, tickets, in_time)
    VALUES (NEW.state, COALESCE(NEW.department_id, ''), NEW.priority, COALESCE(NEW.assignee_id, ''), 1,
            CASE WHEN NEW.sla_elapsed_ms <= NEW.sla_resolution_ms THEN 1 ELSE 0 END)
    ON CONFLICT (state, department_id, priority, assignee_id)
    DO UPDATE SET tickets = tickets + 1, in_time = in_time + excluded.in_time;
END;

-- Only when the group or the in-time mark changes (not on every SLA tick).
CREATE TRIGGER tickets_board_update
AFTER UPDATE OF state, department_id, priority, assignee_id, sla_elapsed_ms, sla_resolution_ms ON tickets
WHEN OLD.state IS NOT NEW.state OR OLD.department_id IS NOT NEW.department_id
  OR OLD.priority IS NOT NEW.priority OR OLD.assignee_id IS NOT NEW.assignee_id
  OR (OLD.sla_elapsed_ms <= OLD.sla_resolution_ms) IS NOT (NEW.sla_elapsed_ms <= NEW.sla_resolution_ms)
BEGIN
    UPDATE ticket_board_counts
    SET tickets = tickets - 1,
        in_time = in_time - CASE WHEN OLD.sla_elapsed_ms <= OLD.sla_resolution_ms THEN 1 ELSE 0 END
    WHERE state = OLD.state AND department_id = COALESCE(OLD.department_id, '')
      AND priority = OLD.priority AND assignee_id = COALESCE(OLD.assignee_id, '');
    INSERT INTO ticket_board_counts (state, department_id, priority, assignee_id, tickets, in_time)
    VALUES (NEW.state, COALESCE(NEW.department_id, ''), NEW.priority, COALESCE(NEW.assignee_id, ''), 1,
            CASE WHEN NEW.sla_elapsed_ms <= NEW.sla_resolution_ms THEN 1 ELSE 0 END)
    ON CONFLICT (state, department_id, priority, assignee_id)
    DO UPDATE SET tickets = tickets + 1, in_time = in_time + excluded.in_time;
END;

CREATE TRIGGER tickets_board_delete AFTER DELETE ON tickets
BEGIN
    UPDATE ticket_board_counts
    SET tickets = tickets - 1,
        in_time = in_time - CASE WHEN OLD.sla_elapsed_ms <= OLD.sla_resolution_ms THEN 1 ELSE 0 END
    WHERE state = OLD.state AND department_id = COALESCE(OLD.department_id, '')
      AND priority = OLD.priority AND assignee_id = COALESCE(OLD.assignee_id, '');
END;
