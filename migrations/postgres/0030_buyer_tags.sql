-- Tags staff put on a buyer's shop account by hand (老客户, 爱砍价), shown in the
-- buyer profile beside the rule tags. Keyed by the account's blind index (as
-- visitors.account_index), never the account itself; the tag is sealed with
-- the data key (bound to the row's id) and kept unique per account by its own
-- blind index; erased with the buyer.
CREATE TABLE buyer_tags (
    id            TEXT PRIMARY KEY,
    account_index BYTEA NOT NULL,
    tag_index     BYTEA NOT NULL,    -- keyed hash of the tag
    sealed_tag    BYTEA NOT NULL,    -- 1 to 16 characters, sealed
    created_by    TEXT NOT NULL,       -- staff id
    created_at    BIGINT NOT NULL,
    UNIQUE (account_index, tag_index)
);
