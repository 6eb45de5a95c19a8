-- A ticket's words (title, description, order number, custom fields such as a
-- tracking number, the status text the buyer reads), every comment's body and
-- every history line's detail (a transition's note) are sealed at rest like
-- messages (XChaCha20-Poly1305 under the data key, bound to the row:
-- storage/tickets.rs). The old columns keep empty values from now on; at start
-- the server seals what an older version stored in clear (storage/privacy.rs,
-- `seal_plaintext_rows`).
ALTER TABLE tickets ADD COLUMN sealed_text BLOB;
ALTER TABLE ticket_comments ADD COLUMN sealed_body BLOB;
ALTER TABLE ticket_events ADD COLUMN sealed_detail BLOB;
