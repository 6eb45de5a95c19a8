-- Blocklists: a visitor blocked by an agent from the chat, or an address range
-- (IP or CIDR) blocked by an admin; each with a reason and an optional expiry.

CREATE TABLE blocks (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,        -- visitor | network
    value      TEXT NOT NULL,        -- a visitor id, or a network such as 203.0.113.0/24
    reason     TEXT NOT NULL,
    created_by TEXT NOT NULL,        -- a staff id
    created_at BIGINT NOT NULL,
    expires_at BIGINT                -- NULL: until lifted
);
CREATE INDEX blocks_by_expiry ON blocks (expires_at);
