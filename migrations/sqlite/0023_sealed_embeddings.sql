-- The embedding of an unanswered question says what the question was about (an
-- embedding can be inverted to approximate text): sealed at rest like the question
-- (XChaCha20-Poly1305 under the data key, bound to the row). The old column keeps
-- NULL from now on; at start the server seals any embedding still stored in clear
-- (storage/privacy.rs, `seal_plaintext_rows`).
ALTER TABLE unanswered_questions ADD COLUMN sealed_embedding BLOB;
