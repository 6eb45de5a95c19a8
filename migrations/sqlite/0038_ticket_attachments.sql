-- Files on a ticket (issue 16): the photos of the chat a ticket came from and
-- those the buyer or staff add. A row with comment_id '' is the upload itself;
-- each comment a file was sent with has a row of its own. public: the buyer
-- may be served it (the buyer's own uploads, the chat's photos, and files
-- staff sent with a public reply); staff uploads stay internal until then.
CREATE TABLE ticket_attachments (
    ticket_id     TEXT NOT NULL REFERENCES tickets(id),
    attachment_id TEXT NOT NULL REFERENCES attachments(id),
    comment_id    TEXT NOT NULL DEFAULT '',
    public        BOOLEAN NOT NULL,
    added_by      TEXT NOT NULL,     -- 'buyer', 'chat' or 'staff:<id>'
    created_at    INTEGER NOT NULL,
    position      INTEGER NOT NULL DEFAULT 0,   -- its place among the comment's files
    PRIMARY KEY (ticket_id, attachment_id, comment_id)
);
CREATE INDEX ticket_attachments_attachment ON ticket_attachments (attachment_id);
