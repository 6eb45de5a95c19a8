-- Rate limits and sign-in lockouts shared by every node on this database, so a
-- client gets the quota once per cluster, not once per node. Rows are found by a
-- keyed hash (the data key's blind index) of the limit and its key: the client
-- address, visitor id or account name is never stored.

-- Requests per key and minute (a sliding window over this minute and the last).
CREATE TABLE rate_windows (
    key_index    BYTEA NOT NULL,
    window_start BIGINT NOT NULL,   -- ms, the start of the minute
    hits         BIGINT NOT NULL,
    PRIMARY KEY (key_index, window_start)
);
CREATE INDEX rate_windows_by_start ON rate_windows (window_start);

-- Failed sign-ins per account and per client address, and the lock they earned.
CREATE TABLE sign_in_failures (
    key_index      BYTEA PRIMARY KEY,
    failures       BIGINT NOT NULL,
    last_failed_at BIGINT NOT NULL,
    locked_until   BIGINT NOT NULL,
    forget_at      BIGINT NOT NULL  -- quiet until then: the count starts afresh
);
CREATE INDEX sign_in_failures_by_forget ON sign_in_failures (forget_at);
