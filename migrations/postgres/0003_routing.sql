-- Routing and the agent workspace (PostgreSQL). Times are Unix milliseconds.

-- A team that takes one kind of chat (pre-sales, after-sales, a product category).
CREATE TABLE skill_groups (
    id                TEXT PRIMARY KEY,
    name              TEXT NOT NULL UNIQUE,
    strategy          TEXT NOT NULL,      -- saturation | round_robin | priority | weighted
    is_default        BOOLEAN NOT NULL DEFAULT FALSE,  -- where chats no rule matches go
    overflow_group_id TEXT REFERENCES skill_groups(id),
    overflow_after_ms BIGINT,            -- wait after which a chat moves to the overflow group
    rr_last_agent     TEXT,               -- round robin: who got the last chat
    created_at        BIGINT NOT NULL
);
CREATE UNIQUE INDEX skill_groups_one_default ON skill_groups(is_default) WHERE is_default;

CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES skill_groups(id) ON DELETE CASCADE,
    agent_id TEXT NOT NULL REFERENCES staff_users(id),
    level    BIGINT NOT NULL DEFAULT 0,    -- priority strategy: higher first
    weight   BIGINT NOT NULL DEFAULT 100,  -- weighted strategy: share of new chats
    assigned BIGINT NOT NULL DEFAULT 0,    -- chats this group gave this agent
    PRIMARY KEY (group_id, agent_id)
);
CREATE INDEX group_members_by_agent ON group_members(agent_id);

-- Which group a chat goes to, by intent, product category or entry page.
CREATE TABLE routing_rules (
    id         TEXT PRIMARY KEY,
    match_kind TEXT NOT NULL,             -- intent | category | entry_page
    pattern    TEXT NOT NULL,
    group_id   TEXT NOT NULL REFERENCES skill_groups(id) ON DELETE CASCADE,
    priority   BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

-- No row means offline.
CREATE TABLE agent_presence (
    agent_id         TEXT PRIMARY KEY REFERENCES staff_users(id),
    status           TEXT NOT NULL,       -- online | busy | away | offline
    last_assigned_at BIGINT NOT NULL DEFAULT 0,
    updated_at       BIGINT NOT NULL
);

-- Conversations waiting for an agent, by group.
CREATE TABLE queue_entries (
    conversation_id   TEXT PRIMARY KEY REFERENCES conversations(id),
    group_id          TEXT NOT NULL REFERENCES skill_groups(id),
    vip               BOOLEAN NOT NULL DEFAULT FALSE,
    first_enqueued_at BIGINT NOT NULL,   -- orders the queue; kept across overflow
    group_since       BIGINT NOT NULL,   -- entered the current group
    overflow_at       BIGINT             -- move to the group's overflow group then
);
CREATE INDEX queue_entries_by_group ON queue_entries(group_id, vip, first_enqueued_at);
CREATE INDEX queue_entries_by_overflow ON queue_entries(overflow_at) WHERE overflow_at IS NOT NULL;

-- Every automatic assignment: the expected-wait estimate and the supervisor board read it.
CREATE TABLE assignments (
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    group_id        TEXT NOT NULL,
    agent_id        TEXT NOT NULL,
    waited_ms       BIGINT NOT NULL,
    assigned_at     BIGINT NOT NULL
);
CREATE INDEX assignments_by_group ON assignments(group_id, assigned_at);

-- Shop systems mark VIP buyers; their chats jump the queue.
ALTER TABLE visitors ADD COLUMN vip BOOLEAN NOT NULL DEFAULT FALSE;

CREATE TABLE quick_replies (
    id         TEXT PRIMARY KEY,
    owner_id   TEXT REFERENCES staff_users(id),  -- NULL: shared with everyone
    category   TEXT NOT NULL,
    shortcut   TEXT NOT NULL,                    -- typed as "/refund"
    text       TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX quick_replies_shortcut ON quick_replies(COALESCE(owner_id, ''), shortcut);

INSERT INTO skill_groups (id, name, strategy, is_default, created_at)
VALUES ('general', 'general', 'saturation', TRUE, 0);
INSERT INTO group_members (group_id, agent_id)
SELECT 'general', id FROM staff_users WHERE role IN ('agent', 'supervisor', 'admin');
