-- The bot (SQLite): per-conversation bot memory, hand-off packets, answer ratings,
-- the unanswered-question log and welcome messages. Times are Unix milliseconds.

-- What the bot remembers between buyer messages (intent, slots, answers); sealed JSON.
CREATE TABLE bot_sessions (
    conversation_id TEXT PRIMARY KEY REFERENCES conversations(id),
    state           BLOB NOT NULL,
    updated_at      INTEGER NOT NULL
);

-- Everything an agent needs when a chat is handed over; sealed JSON (it holds buyer data).
CREATE TABLE handoff_packets (
    id              TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    reason          TEXT NOT NULL,
    packet          BLOB NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX handoff_packets_by_conversation ON handoff_packets(conversation_id, created_at);

-- A buyer's thumbs up/down on one bot answer (the event at `seq`); the last vote counts.
CREATE TABLE answer_ratings (
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    seq             INTEGER NOT NULL,
    helpful         BOOLEAN NOT NULL,
    entry_ids       TEXT NOT NULL,   -- JSON array of the cited entries
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, seq)
);

-- Questions the bot could not answer well, for knowledge managers (order numbers
-- and phone numbers are masked before they are written).
CREATE TABLE unanswered_questions (
    id              TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations(id),
    question        TEXT NOT NULL,
    reason          TEXT NOT NULL,
    embedding       TEXT,            -- JSON array of floats, for grouping by similarity
    created_at      INTEGER NOT NULL
);
CREATE INDEX unanswered_by_time ON unanswered_questions(created_at);

CREATE TABLE welcome_messages (
    scenario   TEXT PRIMARY KEY,     -- new_visitor | returning_visitor | out_of_hours | campaign:<code>
    text       TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);
