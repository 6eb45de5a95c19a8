-- Two-step sign-in (TOTP, RFC 6238) for staff who turn it on. The secret an
-- authenticator app shares is sealed with the data key, bound to the account
-- (`staff_totp:<id>`); it signs nobody in until a code from it was entered
-- (`totp_enabled`). `totp_last_step` is the last 30-second step accepted:
-- a code is taken once, on whichever node.
ALTER TABLE staff_users ADD COLUMN totp_sealed BLOB;
ALTER TABLE staff_users ADD COLUMN totp_enabled BOOLEAN NOT NULL DEFAULT FALSE;
ALTER TABLE staff_users ADD COLUMN totp_last_step INTEGER NOT NULL DEFAULT 0;
