-- History search over encrypted conversations: a keyed blind index. Each term
-- of a message (jieba words, Latin stems, digit runs) and of the buyer's name,
-- phone and shop account is stored only as the first 8 bytes of its HMAC under
-- a key derived from the data key; the words themselves never reach the disk.
CREATE TABLE history_terms (
    term BLOB NOT NULL,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    PRIMARY KEY (term, conversation_id)
) WITHOUT ROWID;

CREATE INDEX conversations_by_created ON conversations (created_at);
CREATE INDEX conversations_by_agent_created ON conversations (agent_id, created_at);
