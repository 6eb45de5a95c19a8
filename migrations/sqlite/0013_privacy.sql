-- Personal data and buyer text sealed at rest, and the PIPL controls.
--
-- The buyer's nickname, browsing context (pages, cart) and shop account id, and
-- the questions the bot could not answer, move to sealed columns
-- (XChaCha20-Poly1305 under the data key, bound to their row). The shop account
-- id keeps a keyed blind index (HMAC) so a buyer can still be found by it. SQL
-- cannot encrypt: at start the server seals any row still holding plaintext in
-- the old columns and clears them (storage/privacy.rs, `seal_plaintext_rows`).
ALTER TABLE visitors ADD COLUMN sealed_account BLOB;
ALTER TABLE visitors ADD COLUMN account_index BLOB;
ALTER TABLE visitors ADD COLUMN sealed_nickname BLOB;
ALTER TABLE visitors ADD COLUMN sealed_context BLOB;
-- Set when an admin erased the buyer (PIPL): the row stays, empty, so the
-- conversations' statistics keep a (now anonymous) owner.
ALTER TABLE visitors ADD COLUMN erased_at INTEGER;
CREATE INDEX visitors_by_account ON visitors (account_index);

ALTER TABLE unanswered_questions ADD COLUMN sealed_question BLOB;

-- Message bodies replaced by the retention purge or a buyer's erasure (the
-- event stays, so sequence numbers and statistics hold).
ALTER TABLE events ADD COLUMN erased BOOLEAN NOT NULL DEFAULT FALSE;

-- One row of admin settings: how long messages and attachments are kept (NULL:
-- for ever), and whether every new conversation must solve a challenge (during
-- an attack) rather than only clients past the soft limit.
CREATE TABLE protection_settings (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    retention_days  INTEGER,
    challenge_all   BOOLEAN NOT NULL DEFAULT FALSE,
    updated_by      TEXT NOT NULL,
    updated_at      INTEGER NOT NULL
);

-- Proof-of-work challenges already used, kept until they expire, so a solution
-- cannot be replayed.
CREATE TABLE spent_challenges (
    signature  TEXT PRIMARY KEY,
    expires_at INTEGER NOT NULL
);
CREATE INDEX spent_challenges_by_expiry ON spent_challenges (expires_at);
