-- A visit's browsing (pages with their URLs and titles, referrer, UTM, cart,
-- shop account, member level) sealed at rest like the visitor's context
-- (XChaCha20-Poly1305 under the data key, bound to the visit). The old `state`
-- column stays NOT NULL and holds '' from now on; at start the server seals any
-- visit still holding its state in clear and empties the column
-- (storage/privacy.rs, `seal_plaintext_rows`).
ALTER TABLE visits ADD COLUMN sealed_state BLOB;
