-- The ticket board as running counts (`bench tickets`: grouping 100k tickets
-- on every board read missed its 100 ms p99). One row per (state, department,
-- priority, assignee) with its tickets and those within their resolution
-- target; '' stands for no department or no assignee (a key column cannot be
-- NULL). A trigger keeps it in the transaction of every ticket insert, update
-- (a merge is two) and delete: the old group -1, the new group +1, the two
-- rows always locked in key order (two moves in opposite directions wait for
-- each other instead of deadlocking). Groups that fall to zero stay (the
-- board reads only rows above zero).
CREATE TABLE ticket_board_counts (
    state         TEXT NOT NULL,
    department_id TEXT NOT NULL,
    priority      TEXT NOT NULL,
    assignee_id   TEXT NOT NULL,
    tickets       BIGINT NOT NULL,
    in_time       BIGINT NOT NULL,
    PRIMARY KEY (state, department_id, priority, assignee_id)
);

INSERT INTO ticket_board_counts (state, department_id, priority, assignee_id, tickets, in_time)
SELECT state, COALESCE(department_id, ''), priority, COALESCE(assignee_id, ''), COUNT(*),
       SUM(CASE WHEN sla_elapsed_ms <= sla_resolution_ms THEN 1 ELSE 0 END)
FROM tickets GROUP BY state, COALESCE(department_id, ''), priority, COALESCE(assignee_id, '');

-- Adds `delta` tickets (of which `in_time_delta` in time) to one group.
CREATE FUNCTION ticket_board_add(s TEXT, d TEXT, p TEXT, a TEXT, delta BIGINT, in_time_delta BIGINT)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO ticket_board_counts (state, department_id, priority, assignee_id, tickets, in_time)
    VALUES (s, COALESCE(d, ''), p, COALESCE(a, ''), delta, in_time_delta)
    ON CONFLICT (state, department_id, priority, assignee_id)
    DO UPDATE SET tickets = ticket_board_counts.tickets + EXCLUDED.tickets,
                  in_time = ticket_board_counts.in_time + EXCLUDED.in_time;
$$;

CREATE FUNCTION ticket_board_count() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_in BIGINT;
    new_in BIGINT;
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM ticket_board_add(NEW.state, NEW.department_id, NEW.priority, NEW.assignee_id, 1,
            CASE WHEN NEW.sla_elapsed_ms <= NEW.sla_resolution_ms THEN 1 ELSE 0 END);
        RETURN NULL;
    END IF;
    old_in := CASE WHEN OLD.sla_elapsed_ms <= OLD.sla_resolution_ms THEN 1 ELSE 0 END;
    IF TG_OP = 'DELETE' THEN
        PERFORM ticket_board_add(OLD.state, OLD.department_id, OLD.priority, OLD.assignee_id, -1, -old_in);
        RETURN NULL;
    END IF;
    new_in := CASE WHEN NEW.sla_elapsed_ms <= NEW.sla_resolution_ms THEN 1 ELSE 0 END;
    IF (OLD.state, COALESCE(OLD.department_id, ''), OLD.priority, COALESCE(OLD.assignee_id, ''))
       = (NEW.state, COALESCE(NEW.department_id, ''), NEW.priority, COALESCE(NEW.assignee_id, '')) THEN
        IF old_in <> new_in THEN
            PERFORM ticket_board_add(NEW.state, NEW.department_id, NEW.priority, NEW.assignee_id, 0, new_in - old_in);
        END IF;
    ELSIF (OLD.state, COALESCE(OLD.department_id, ''), OLD.priority, COALESCE(OLD.assignee_id, ''))
        < (NEW.state, COALESCE(NEW.department_id, ''), NEW.priority, COALESCE(NEW.assignee_id, '')) THEN
        PERFORM ticket_board_add(OLD.state, OLD.department_id, OLD.priority, OLD.assignee_id, -1, -old_in);
        PERFORM ticket_board_add(NEW.state, NEW.department_id, NEW.priority, NEW.assignee_id, 1, new_in);
    ELSE
        PERFORM ticket_board_add(NEW.state, NEW.department_id, NEW.priority, NEW.assignee_id, 1, new_in);
        PERFORM ticket_board_add(OLD.state, OLD.department_id, OLD.priority, OLD.assignee_id, -1, -old_in);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER tickets_board_insert_delete AFTER INSERT OR DELETE ON tickets
    FOR EACH ROW EXECUTE FUNCTION ticket_board_count();
-- Only when the group or the in-time mark changes (not on every SLA tick).
CREATE TRIGGER tickets_board_update
    AFTER UPDATE OF state, department_id, priority, assignee_id, sla_elapsed_ms, sla_resolution_ms ON tickets
    FOR EACH ROW
    WHEN (OLD.state IS DISTINCT FROM NEW.state OR OLD.department_id IS DISTINCT FROM NEW.department_id
       OR OLD.priority IS DISTINCT FROM NEW.priority OR OLD.assignee_id IS DISTINCT FROM NEW.assignee_id
       OR (OLD.sla_elapsed_ms <= OLD.sla_resolution_ms) IS DISTINCT FROM (NEW.sla_elapsed_ms <= NEW.sla_resolution_ms))
    EXECUTE FUNCTION ticket_board_count();
