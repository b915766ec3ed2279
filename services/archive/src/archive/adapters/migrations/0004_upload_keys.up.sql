-- Idempotency keys of HTTP uploads: a retried upload (same member, same key, same file and
-- fields) is answered with the receipt the first one stored instead of archiving a second copy.
-- The key is kept only as its SHA-256; the fingerprint is the SHA-256 of the file and fields.
CREATE TABLE upload_keys (
    user_id      text NOT NULL,
    key_sha256   text NOT NULL,
    fingerprint  text NOT NULL,
    receipt_id   uuid NOT NULL REFERENCES receipts (receipt_id),
    created_at   timestamptz NOT NULL,
    PRIMARY KEY (user_id, key_sha256)
);
CREATE INDEX upload_keys_age ON upload_keys (created_at);
