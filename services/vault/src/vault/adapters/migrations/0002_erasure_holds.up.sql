-- Erasures held open until the member's bank consents are revoked (see vault.domain.erasure):
-- every key of the member but one escrow key is already destroyed; the escrow key, which only
-- encrypts the member's consent tokens, is destroyed when the hold is released.
CREATE TABLE erasure_holds (
    subject        TEXT        PRIMARY KEY,
    request_id     TEXT        NOT NULL,
    escrow_key_id  UUID        NOT NULL REFERENCES data_keys (key_id),
    started_at     TIMESTAMPTZ NOT NULL,
    release_at     TIMESTAMPTZ NOT NULL
);
CREATE INDEX erasure_holds_due ON erasure_holds (release_at);
