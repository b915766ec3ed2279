-- auth's tables. Secrets are never stored in clear: passwords as argon2id hashes; codes,
-- tickets, refresh tokens, verification links and recovery codes as HMAC-SHA-256 under the
-- pepper; TOTP secrets and signing private keys sealed with AES-256-GCM.
CREATE TABLE accounts (
    id                uuid PRIMARY KEY,
    email             text NOT NULL UNIQUE,
    password_hash     text,
    created_at        timestamptz NOT NULL,
    phone             text,
    phone_verified_at timestamptz,
    tenant_id         uuid,
    external_id       text,
    factors           text[] NOT NULL DEFAULT '{}',
    UNIQUE (tenant_id, external_id)
);

CREATE TABLE pending_registrations (
    token_hash    text PRIMARY KEY,
    email         text NOT NULL,
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL
);
CREATE INDEX pending_registrations_expiry ON pending_registrations (expires_at);

CREATE TABLE totp_factors (
    user_id        uuid PRIMARY KEY REFERENCES accounts (id) ON DELETE CASCADE,
    secret_sealed  bytea NOT NULL,
    created_at     timestamptz NOT NULL,
    confirmed_at   timestamptz,
    last_used_step bigint
);

CREATE TABLE recovery_codes (
    user_id   uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    code_hash text NOT NULL,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE challenges (
    id               uuid PRIMARY KEY,
    user_id          uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    purpose          text NOT NULL,
    method           text,
    created_at       timestamptz NOT NULL,
    expires_at       timestamptz NOT NULL,
    code_hash        text,
    code_expires_at  timestamptz,
    sms_sends        integer NOT NULL DEFAULT 0,
    ticket_hash      text UNIQUE,
    operation_digest text,
    operation        jsonb NOT NULL DEFAULT '{}',
    scope            text,
    attempts         integer NOT NULL DEFAULT 0,
    locked_at        timestamptz,
    consumed_at      timestamptz
);
CREATE INDEX challenges_user ON challenges (user_id);
CREATE INDEX challenges_expiry ON challenges (expires_at);

CREATE TABLE sessions (
    id                  uuid PRIMARY KEY,
    user_id             uuid NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    scope               text NOT NULL,
    methods             text[] NOT NULL,
    created_at          timestamptz NOT NULL,
    last_seen_at        timestamptz NOT NULL,
    absolute_expires_at timestamptz NOT NULL,
    ip                  text,
    user_agent          text,
    tenant_id           uuid,
    revoked_at          timestamptz,
    revoked_reason      text
);
CREATE INDEX sessions_active_user ON sessions (user_id) WHERE revoked_at IS NULL;
CREATE INDEX sessions_expiry ON sessions (absolute_expires_at);

CREATE TABLE refresh_tokens (
    token_hash text PRIMARY KEY,
    session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    issued_at  timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

CREATE TABLE failure_counts (
    key          text PRIMARY KEY,
    failures     integer NOT NULL DEFAULT 0,
    locked_until timestamptz
);

CREATE TABLE rate_counters (
    rule         text NOT NULL,
    key          text NOT NULL,
    window_start timestamptz NOT NULL,
    hits         integer NOT NULL,
    expires_at   timestamptz NOT NULL,
    PRIMARY KEY (rule, key, window_start)
);
CREATE INDEX rate_counters_expiry ON rate_counters (expires_at);

CREATE TABLE signing_keys (
    kid            text PRIMARY KEY,
    private_sealed bytea NOT NULL,
    public_jwk     jsonb NOT NULL,
    created_at     timestamptz NOT NULL,
    activates_at   timestamptz NOT NULL,
    retired_at     timestamptz
);

CREATE TABLE tenants (
    id               uuid PRIMARY KEY,
    slug             text NOT NULL UNIQUE,
    name             text NOT NULL,
    idp_entity_id    text NOT NULL,
    idp_metadata_xml text NOT NULL,
    email_attribute  text NOT NULL,
    created_at       timestamptz NOT NULL
);

CREATE TABLE saml_requests (
    request_id text PRIMARY KEY,
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    expires_at timestamptz NOT NULL
);

CREATE TABLE saml_assertions (
    assertion_id text PRIMARY KEY,
    expires_at   timestamptz NOT NULL
);
