-- The vault's key hierarchy, secrets, grants, rotations, sealing keys and hash-chained audit log.
-- No column ever holds key material or a secret in clear: only wrapped keys and ciphertexts.

CREATE TABLE master_keys (
    version     INTEGER     PRIMARY KEY CHECK (version >= 1),
    wrapped     BYTEA,                      -- wrapped by the KMS; NULL once retired
    kms_key_id  TEXT        NOT NULL,
    state       TEXT        NOT NULL CHECK (state IN ('active', 'decrypt-only', 'retired')),
    created_at  TIMESTAMPTZ NOT NULL,
    retired_at  TIMESTAMPTZ,
    CHECK ((state = 'retired') = (wrapped IS NULL))
);
CREATE UNIQUE INDEX master_keys_one_active ON master_keys ((true)) WHERE state = 'active';

CREATE TABLE data_keys (
    key_id          UUID        PRIMARY KEY,
    subject         TEXT        NOT NULL,
    version         INTEGER     NOT NULL CHECK (version >= 1),
    master_version  INTEGER     NOT NULL,
    wrapped         BYTEA,                  -- wrapped by the master key; NULL once destroyed
    created_at      TIMESTAMPTZ NOT NULL,
    destroyed_at    TIMESTAMPTZ,
    UNIQUE (subject, version),
    CHECK ((destroyed_at IS NULL) = (wrapped IS NOT NULL))
);
CREATE INDEX data_keys_live_by_master ON data_keys (master_version, key_id)
    WHERE destroyed_at IS NULL;

CREATE TABLE secrets (
    subject      TEXT        NOT NULL,
    purpose      TEXT        NOT NULL,
    secret_id    TEXT        NOT NULL,
    key_id       UUID        NOT NULL REFERENCES data_keys (key_id),
    key_version  INTEGER     NOT NULL,
    ciphertext   BYTEA       NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    updated_at   TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (subject, purpose, secret_id)
);

CREATE TABLE grants (
    grant_id          UUID        PRIMARY KEY,
    requested_by      TEXT        NOT NULL,
    operator          TEXT        NOT NULL,
    subject           TEXT        NOT NULL,
    purpose           TEXT        NOT NULL,
    secret_id         TEXT        NOT NULL,
    reason            TEXT        NOT NULL,
    consent_ref       TEXT        NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL,
    expires_at        TIMESTAMPTZ NOT NULL,
    max_uses          INTEGER     NOT NULL CHECK (max_uses >= 1),
    uses              INTEGER     NOT NULL CHECK (uses >= 0),
    copy              BYTEA,                 -- the secret's copy; NULL once the grant ended
    copy_key_id       UUID        NOT NULL REFERENCES data_keys (key_id),
    copy_key_version  INTEGER     NOT NULL,
    ended_at          TIMESTAMPTZ,
    end_reason        TEXT,
    CHECK (ended_at IS NULL OR copy IS NULL)
);
CREATE INDEX grants_open_by_expiry ON grants (expires_at) WHERE ended_at IS NULL;
CREATE INDEX grants_by_subject ON grants (subject) WHERE ended_at IS NULL;

CREATE TABLE rotations (
    rotation_id  UUID        PRIMARY KEY,
    to_version   INTEGER     NOT NULL,
    status       TEXT        NOT NULL CHECK (status IN ('running', 'done')),
    cursor_key   UUID,
    rewrapped    INTEGER     NOT NULL,
    total        INTEGER     NOT NULL,
    started_at   TIMESTAMPTZ NOT NULL,
    finished_at  TIMESTAMPTZ
);
CREATE UNIQUE INDEX rotations_one_running ON rotations ((true)) WHERE status = 'running';

CREATE TABLE sealing_keys (
    kid              TEXT        PRIMARY KEY,
    alg              SMALLINT    NOT NULL,
    public_key       BYTEA       NOT NULL,
    wrapped_private  BYTEA       NOT NULL,   -- wrapped by the KMS
    created_at       TIMESTAMPTZ NOT NULL,
    active           BOOLEAN     NOT NULL
);

CREATE TABLE audit_log (
    seq        BIGINT      PRIMARY KEY,
    at         TIMESTAMPTZ NOT NULL,
    actor      TEXT        NOT NULL,
    action     TEXT        NOT NULL,
    outcome    TEXT        NOT NULL,
    subject    TEXT,
    purpose    TEXT,
    ref        TEXT,
    operator   TEXT,
    detail     JSONB       NOT NULL,
    prev_hash  TEXT        NOT NULL,
    hash       TEXT        NOT NULL
);

-- The chain's head: appends lock this one row, so entries are chained one at a time.
CREATE TABLE audit_head (
    id    SMALLINT PRIMARY KEY CHECK (id = 1),
    seq   BIGINT   NOT NULL,
    hash  TEXT     NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
