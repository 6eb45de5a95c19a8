-- Tags staff put on a buyer's shop account by hand (老客户, 爱砍价), shown in the
-- buyer profile beside the rule tags. Keyed by the account's blind index (as
-- visitors.account_index), never the account itself; erased with the buyer.
CREATE TABLE buyer_tags (
    account_index BLOB NOT NULL,
    tag           TEXT NOT NULL,       -- 1 to 16 characters
    created_by    TEXT NOT NULL,       -- staff id
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (account_index, tag)
);
