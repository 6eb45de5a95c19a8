-- On PostgreSQL the attachment bytes (sealed with the data key, as on disk) live
-- in the database, so every node of a cluster serves every attachment.
CREATE TABLE attachment_blobs (
    id      TEXT PRIMARY KEY REFERENCES attachments(id),
    sealed  BYTEA NOT NULL
);
