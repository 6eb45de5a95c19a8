-- The audit log: append-only and hash-chained (each record carries the hash of
-- the one before; `xiaoer audit verify` recomputes the chain). Records name who
-- acted (a staff id), what they did and what they touched, never PII values.
CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY,   -- 1, 2, 3...: a gap is a deleted record
    at        INTEGER NOT NULL,      -- ms since the epoch
    actor     TEXT,                  -- staff id; NULL: anonymous caller
    action    TEXT NOT NULL,         -- sign_in | sign_in_failed | permission_denied | ...
    target    TEXT NOT NULL,         -- what was touched: kb_entry:<id>, staff_user:<id>, route:<METHOD /template>
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE INDEX audit_log_by_action ON audit_log (action, seq);
CREATE INDEX audit_log_by_actor ON audit_log (actor, seq);

-- The last record written, so deleting records from the end is seen too.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
    VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Append-only for the application: changing or deleting a record fails.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
