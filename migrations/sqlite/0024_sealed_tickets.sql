-- A ticket's words (title, description, order number, custom fields such as a
-- tracking number, the status text the buyer reads) and every comment's body are
-- sealed at rest like messages (XChaCha20-Poly1305 under the data key, bound to
-- the row: storage/tickets.rs). The old columns keep empty values from now on; at
-- start the server seals what an older version stored in clear
-- (storage/privacy.rs, `seal_plaintext_rows`).
ALTER TABLE tickets ADD COLUMN sealed_text BLOB;
ALTER TABLE ticket_comments ADD COLUMN sealed_body BLOB;
